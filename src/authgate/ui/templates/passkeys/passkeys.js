// authgate passkeys: runs navigator.credentials.create/get for forms marked
// data-passkey="create" or "get", and posts the result in the form's "credential" field.
// The page stays a plain form: without this script (or WebAuthn) the button explains why.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBytes(d.id), transports: d.transports };
    });
  }

  function creationOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = toBytes(o.challenge);
    options.user = Object.assign({}, o.user, { id: toBytes(o.user.id) });
    options.excludeCredentials = descriptors(o.excludeCredentials);
    return options;
  }

  function requestOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = toBytes(o.challenge);
    options.allowCredentials = descriptors(o.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) { response.userHandle = toText(r.userHandle); }
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined
    };
  }

  function fail(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    box.textContent = message;
    box.hidden = false;
    box.focus();
    form.removeAttribute("aria-busy");
  }

  function fetchOptions(form) {
    var body = new URLSearchParams();
    var csrf = form.querySelector("input[name=csrf_token]");
    if (csrf) { body.set("csrf_token", csrf.value); }
    return fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (answer) {
      if (answer.status === 401 || answer.status === 403) {
        return answer.json().then(function (b) {
          if (b.location) { window.location.assign(b.location); }
          throw new Error("refused");
        });
      }
      if (!answer.ok) { throw new Error("options"); }
      return answer.json();
    });
  }

  function ceremony(form, event) {
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      fail(form, form.getAttribute("data-msg-unsupported"));
      return;
    }
    form.setAttribute("aria-busy", "true");
    var creating = form.getAttribute("data-passkey") === "create";
    fetchOptions(form).then(function (started) {
      if (started.session) { form.elements.session.value = started.session; }
      return creating
        ? navigator.credentials.create({ publicKey: creationOptions(started.options) })
        : navigator.credentials.get({ publicKey: requestOptions(started.options) });
    }).then(function (credential) {
      form.elements.credential.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    }).catch(function () {
      fail(form, form.getAttribute("data-msg-failed"));
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", ceremony.bind(null, forms[i]));
  }
})();
