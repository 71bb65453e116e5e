//! Who does an action.

use crate::access::Granter;
use skjold_domain::Grant;
use skjold_store::User;

/// The way an action reached the server, as its audit event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Api,
    Web,
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Web => "web",
            Via::Cli => "cli",
        }
    }
}

/// The authenticated actor of an action.
// One actor is made per request and passed by reference: the size of the user variant
// costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in user of the tenant (a session or an API token), with their role's grant
    /// as read for this request.
    User {
        user: User,
        grant: Grant,
        /// The hash of the session (or API token) the request came with: an action on one's
        /// own account keeps it.
        credential: String,
        /// When the user last proved who they are in this session (see [`crate::step_up`]);
        /// `None` with an API token.
        verified_at: Option<String>,
        via: Via,
    },
    /// The installation's operator at the command line, who acts for the system and holds
    /// every right.
    Operator,
}

impl Actor {
    /// Who grants, for the rules in [`crate::access`].
    pub fn granter(&self) -> Granter<'_> {
        match self {
            Actor::User { grant, .. } => Granter::User(grant),
            Actor::Operator => Granter::Operator,
        }
    }

    /// Refuses the action unless the actor holds `right` (an operator holds every right).
    /// The adapters check it too before they parse anything; this is the rule itself.
    pub fn require(&self, right: skjold_domain::Right) -> Result<(), crate::AppError> {
        match self {
            Actor::User { grant, .. } if !grant.has(right) => Err(crate::AppError::Forbidden(
                format!("this needs the right {}", right.as_str()),
            )),
            _ => Ok(()),
        }
    }

    /// The actor as the change journal records it.
    pub fn journal(&self) -> skjold_store::Actor {
        match self {
            Actor::User { user, .. } => skjold_store::Actor::User {
                id: user.id.clone(),
            },
            Actor::Operator => skjold_store::Actor::System { what: "cli" },
        }
    }

    pub fn via(&self) -> Via {
        match self {
            Actor::User { via, .. } => *via,
            Actor::Operator => Via::Cli,
        }
    }

    /// The signed-in user, if the actor is one.
    pub fn user(&self) -> Option<&User> {
        match self {
            Actor::User { user, .. } => Some(user),
            Actor::Operator => None,
        }
    }

    /// Whether the actor is `user` themselves.
    pub fn is(&self, user: &User) -> bool {
        self.user().is_some_and(|u| u.id == user.id)
    }

    /// The credential to keep when the actor ends their own sessions.
    pub fn own_credential_if(&self, user: &User) -> Option<&str> {
        match self {
            Actor::User {
                user: me,
                credential,
                ..
            } if me.id == user.id => Some(credential),
            _ => None,
        }
    }
}
