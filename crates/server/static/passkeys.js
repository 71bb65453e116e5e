// Passkeys in the browser: the only script of Skjold's own, because WebAuthn has no HTML
// form. Everything else works without it; the passkey buttons stay hidden without it.
//
// A button with data-passkey="register" or data-passkey="sign-in" sits in a form that
// carries the ceremony's answer to the server as an ordinary POST. The options come as
// JSON from data-options-url (posted with the form's CSRF or sign-in token), binary fields
// base64url-encoded as webauthn-rs writes them; the answer goes back the same way.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromB64url(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) {
      c.id = fromB64url(c.id);
    });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) {
      c.id = fromB64url(c.id);
    });
    return { publicKey: pk };
  }

  function registration(cred) {
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(cred.response.attestationObject),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
      },
    };
  }

  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null,
      },
    };
  }

  function say(button, message) {
    var target = document.getElementById(button.getAttribute("data-status"));
    if (target) {
      target.textContent = message;
      target.hidden = false;
    }
  }

  function fieldsFor(button, form) {
    var body = new URLSearchParams();
    (button.getAttribute("data-send") || "").split(" ").forEach(function (name) {
      if (!name) {
        return;
      }
      var input = document.querySelector('[name="' + name + '"]');
      if (input) {
        body.append(name, input.value);
      }
    });
    ["csrf_token", "signin_token"].forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (input) {
        body.append(name, input.value);
      }
    });
    return body;
  }

  function run(button) {
    var form = button.form;
    var register = button.getAttribute("data-passkey") === "register";
    button.disabled = true;
    fetch(button.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: fieldsFor(button, form),
    })
      .then(function (res) {
        return res.json().then(function (data) {
          if (!res.ok) {
            if (data.step_up) {
              // Adding a passkey needs a recent password: confirm, then come back.
              window.location.assign(data.step_up);
            }
            throw new Error(data.error || data.detail || "The server refused.");
          }
          return data;
        });
      })
      .then(function (data) {
        form.querySelector('[name="ceremony"]').value = data.ceremony;
        return register
          ? navigator.credentials.create(creationOptions(data.options)).then(registration)
          : navigator.credentials.get(requestOptions(data.options)).then(assertion);
      })
      .then(function (answer) {
        form.querySelector('[name="credential"]').value = JSON.stringify(answer);
        form.submit();
      })
      .catch(function (err) {
        button.disabled = false;
        say(button, err && err.message ? err.message : "The passkey did not answer.");
      });
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      run(button);
    });
  });
})();
