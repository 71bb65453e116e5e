//! How a request becomes an actor of the application layer: the signed-in user with their
//! grant and credential, in their tenant, recorded under the request's address and id.

use crate::extract::{Authorized, Requirement};
use crate::AppState;
use skjold_app::{Actor, Ctx, Via};
use std::net::IpAddr;

impl<R: Requirement> Authorized<R> {
    /// The request's user as the actor of an action that came `via` the API or the web UI.
    pub fn acting(&self, via: Via) -> Actor {
        Actor::User {
            user: self.session.user.clone(),
            grant: self.grant.clone(),
            credential: self.session.token_hash.clone(),
            verified_at: self.session.verified_at.clone(),
            via,
        }
    }

    /// Where an action of this request happens.
    pub fn ctx<'a>(&'a self, state: &'a AppState, ip: IpAddr) -> Ctx<'a> {
        Ctx {
            tenant: &self.tenant.record,
            db: &self.tenant.db,
            audit: &state.audit,
            clock: &state.clock,
            ip: Some(ip),
            request_id: Some(crate::middleware::current_request_id()),
        }
    }
}

impl<R: Requirement> Authorized<R> {
    /// Refuses unless the user proved who they are in this session within the last minutes
    /// (see [`skjold_app::step_up`]; `POST /session/verify` renews it).
    pub fn require_step_up(&self, state: &AppState) -> Result<(), crate::ApiError> {
        Ok(skjold_app::step_up::require_recent(
            &self.acting(Via::Api),
            state.clock.now(),
        )?)
    }
}
