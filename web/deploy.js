// SPDX-License-Identifier: MIT
// Deploy a new function (POST: a name that exists is refused, never replaced)
// and edit one (PUT of everything it had, so nothing is dropped by accident).
"use strict";

(function () {
  const { $, el, show, say, showError, fieldError, api, enc, nsq, link, parseKV, formatKV } = SF;
  const NAME_RE = /^[a-zA-Z0-9][-a-zA-Z0-9_]{0,62}$/;

  // The settings with their own fields, kept in labels or annotations (the
  // daemon reads an annotation first, then a label: core/recipe.c). A new
  // function gets them where OpenFaaS users put them; an edited one keeps
  // each where it was.
  const SETTINGS = [
    { id: "deploy-mode", key: "com.sfaasd.mode", map: "annotations" },
    { id: "deploy-port", key: "com.sfaasd.port", map: "annotations", kind: "count" },
    { id: "deploy-min", key: "com.openfaas.scale.min", map: "labels", kind: "count" },
    { id: "deploy-max", key: "com.openfaas.scale.max", map: "labels", kind: "count" },
    { id: "deploy-zero", key: "com.openfaas.scale.zero", map: "labels" },
    { id: "deploy-idle", key: "com.openfaas.scale.zero-duration", map: "labels", kind: "duration" },
    { id: "deploy-inflight", key: "com.sfaasd.max-inflight", map: "annotations", kind: "count" },
    { id: "deploy-queue", key: "com.sfaasd.queue-max", map: "annotations", kind: "count" },
    { id: "deploy-timeout", key: "com.sfaasd.timeout", map: "annotations", kind: "duration" },
    { id: "deploy-grace", key: "com.sfaasd.grace-period", map: "annotations", kind: "duration" },
    { id: "deploy-scale-type", key: "com.openfaas.scale.type", map: "labels" },
    { id: "deploy-scale-target", key: "com.openfaas.scale.target", map: "labels", kind: "count" },
    { id: "deploy-egress", key: "com.sfaasd.egress", map: "annotations" },
  ];
  // What the API takes beyond the form's fields is kept as it was on edit.
  const FORM = { mode: "new", ns: null, name: null, original: null, where: {}, existing: [] };

  const TEXT_FIELDS = ["deploy-name", "deploy-image-ref", "deploy-fprocess", "deploy-env", "deploy-mem", "deploy-cpu",
    "deploy-mem-req", "deploy-cpu-req", "deploy-labels", "deploy-annotations",
    ...SETTINGS.map((s) => s.id)];

  function clearErrors() {
    for (const id of ["deploy-name", "deploy-image", "deploy-env", "deploy-labels", "deploy-annotations"]) {
      const err = $(id + "-error");
      if (err) fieldError($(id === "deploy-image" ? "deploy-image-ref" : id), err, "");
    }
    for (const s of SETTINGS) $(s.id).removeAttribute("aria-invalid");
    showError($("deploy-error"), "");
  }

  function updateImageRef() {
    show($("deploy-image-ref-box"), $("deploy-image").value === "");
  }

  function fillImages(images, current) {
    let tags = [];
    for (const img of Array.isArray(images) ? images : [])
      if (img && Array.isArray(img.tags)) tags.push(...img.tags.filter((t) => typeof t === "string"));
    tags = [...new Set(tags)].sort();
    const sel = $("deploy-image");
    sel.replaceChildren(...tags.map((t) => el("option", { value: t }, t)),
      el("option", { value: "" }, tags.length ? "Another reference…" : "An image reference…"));
    if (current && tags.includes(current)) sel.value = current;
    else if (current) { sel.value = ""; $("deploy-image-ref").value = current; }
    else sel.value = tags.length ? tags[0] : "";
    updateImageRef();
    return tags;
  }

  function fillSecrets(secrets, chosen) {
    const names = (Array.isArray(secrets) ? secrets : []).map((s) => s && s.name).filter((n) => typeof n === "string").sort();
    const box = $("deploy-secrets");
    const all = [...names, ...chosen.filter((n) => !names.includes(n))];
    box.replaceChildren(...all.map((n) => {
      const id = "deploy-secret-" + n.replace(/[^a-zA-Z0-9_-]/g, "_");
      return el("div", { class: "check" },
        el("input", { type: "checkbox", id, value: n, checked: chosen.includes(n), "data-testid": "deploy-secret" }),
        el("label", { for: id }, n + (names.includes(n) ? "" : " (missing: create it, or the deploy is refused)")));
    }));
    if (all.length === 0) box.append(el("p", { class: "muted small" }, "No secrets in this namespace."));
  }

  function setFormMode(mode, name) {
    FORM.mode = mode;
    const edit = mode === "edit";
    $("deploy-title").textContent = edit ? "Edit " + name : "Deploy a function";
    $("deploy-name").readOnly = edit;
    $("deploy-submit").textContent = edit ? "Save changes" : "Deploy";
    $("deploy-mode-note").textContent = edit
      ? "Saving updates " + name + " in place (its warm instances are replaced); every setting it has is kept unless you change it here."
      : "A new function in namespace " + FORM.ns + ". A name that is taken is refused: open that function to edit it.";
    $("deploy-cancel").href = edit ? link.fn(name) : link.functions();
  }

  async function enter(p) {
    FORM.ns = p.ns;
    FORM.name = p.name || null;
    FORM.original = null;
    FORM.where = {};
    $("deploy-form").reset();
    for (const id of TEXT_FIELDS) $(id).value = "";
    clearErrors();
    setFormMode(p.mode, p.name);
    $("deploy-images-link").href = link.images();
    $("deploy-secrets-link").href = link.secrets();
    $("deploy-submit").disabled = true;
    // The namespace's own images and secrets (a second namespace must not be
    // offered the first one's: issue 15).
    const jobs = [api("GET", "../system/images?" + nsq(p.ns)).catch((e) => e),
      api("GET", "../system/secrets?" + nsq(p.ns)).catch((e) => e),
      p.mode === "edit" ? api("GET", "../system/function/" + enc(p.name) + "?" + nsq(p.ns)).catch((e) => e)
        : api("GET", "../system/functions?" + nsq(p.ns)).catch((e) => e)];
    const [images, secrets, third] = await Promise.all(jobs);
    for (const r of [images, secrets, third]) if (r instanceof SF.HttpError && r.status === 401) return;
    if (images instanceof Error) showError($("deploy-error"), "Cannot list the images: " + images.message);
    if (secrets instanceof Error) showError($("deploy-error"), "Cannot list the secrets: " + secrets.message);
    if (p.mode === "edit") {
      if (third instanceof Error) {
        showError($("deploy-error"), third.status === 404
          ? "Function " + p.name + " does not exist in namespace " + p.ns + "." : "Cannot read " + p.name + ": " + third.message);
        fillImages(images instanceof Error ? [] : images, null);
        return;
      }
      load(third, images instanceof Error ? [] : images, secrets instanceof Error ? [] : secrets);
    } else {
      FORM.existing = Array.isArray(third) ? third.map((f) => f && f.name) : [];
      fillImages(images instanceof Error ? [] : images, null);
      fillSecrets(secrets instanceof Error ? [] : secrets, []);
      $("deploy-name").focus();
    }
    $("deploy-submit").disabled = false;
  }

  // Fill the form from a FunctionStatus.
  function load(f, images, secrets) {
    FORM.original = f;
    $("deploy-name").value = f.name || FORM.name;
    fillImages(images, f.image);
    $("deploy-fprocess").value = f.envProcess || "";
    $("deploy-env").value = formatKV(f.envVars);
    fillSecrets(secrets, Array.isArray(f.secrets) ? f.secrets : []);
    const labels = Object.assign({}, f.labels || {});
    delete labels.faas_function; // added by the daemon to every answer, not the user's
    const annotations = Object.assign({}, f.annotations || {});
    for (const s of SETTINGS) {
      // The value the daemon uses (annotation first); the other copy, if
      // any, stays in its box untouched.
      const where = s.key in annotations ? "annotations" : s.key in labels ? "labels" : s.map;
      const from = where === "annotations" ? annotations : labels;
      FORM.where[s.key] = where;
      if (s.key in from) {
        $(s.id).value = from[s.key];
        if ($(s.id).tagName === "SELECT" && $(s.id).value !== from[s.key]) {
          // A value the select does not offer: keep it in the box instead.
          $(s.id).value = "";
          FORM.where[s.key] = s.map;
          continue;
        }
        delete from[s.key];
      }
    }
    $("deploy-labels").value = formatKV(labels);
    $("deploy-annotations").value = formatKV(annotations);
    const lim = f.limits || {}, req = f.requests || {};
    $("deploy-mem").value = lim.memory || "";
    $("deploy-cpu").value = lim.cpu || "";
    $("deploy-mem-req").value = req.memory || "";
    $("deploy-cpu-req").value = req.cpu || "";
    $("deploy-readonly").checked = !!f.readOnlyRootFilesystem;
  }

  function resources(original, mem, cpu) {
    const out = Object.assign({}, original && typeof original === "object" ? original : {});
    delete out.memory;
    delete out.cpu;
    if (mem) out.memory = mem;
    if (cpu) out.cpu = cpu;
    return Object.keys(out).length ? out : undefined;
  }

  // The FunctionDeployment, or null after showing what is wrong next to it.
  function build() {
    clearErrors();
    const o = FORM.original || {};
    const name = $("deploy-name").value.trim();
    const image = ($("deploy-image").value || $("deploy-image-ref").value).trim();
    let first = null;
    const bad = (input, errNode, msg) => {
      fieldError(input, errNode, msg);
      first = first || input;
    };
    if (!NAME_RE.test(name))
      bad($("deploy-name"), $("deploy-name-error"), name ? "Use letters, digits, “-” and “_”, starting with a letter or digit (at most 63)."
        : "Enter a name for the function.");
    else if (FORM.mode === "new" && FORM.existing.includes(name))
      bad($("deploy-name"), $("deploy-name-error"), "A function named " + name + " exists already in " + FORM.ns +
        ". Choose another name, or open it and use Edit.");
    if (!image) bad($("deploy-image-ref"), $("deploy-image-error"), "Choose an image, or type its reference.");
    const maps = {};
    for (const [id, what] of [["deploy-env", "Environment"], ["deploy-labels", "Labels"], ["deploy-annotations", "Annotations"]]) {
      try {
        maps[id] = parseKV($(id).value, what);
      } catch (err) {
        bad($(id), $(id + "-error"), err.message);
      }
    }
    for (const s of SETTINGS) {
      const v = $(s.id).value.trim();
      const ok = !v || !s.kind || (s.kind === "count" ? /^\d+$/.test(v) : /^\d+(\.\d+)?(ms|s|m|h)?$/.test(v));
      if (!ok) {
        $(s.id).setAttribute("aria-invalid", "true");
        showError($("deploy-error"), $("label[for=" + s.id + "]").textContent + ": " +
          (s.kind === "count" ? "a whole number." : "a duration such as 30s, 500ms or 5m."));
        first = first || $(s.id);
      }
    }
    if (first) {
      first.focus();
      return null;
    }
    const labels = maps["deploy-labels"], annotations = maps["deploy-annotations"];
    for (const s of SETTINGS) {
      const v = $(s.id).value.trim();
      if (v) ((FORM.where[s.key] || s.map) === "annotations" ? annotations : labels)[s.key] = v;
    }
    const secrets = [...document.querySelectorAll("#deploy-secrets input:checked")].map((c) => c.value);
    // An empty map or list is sent only when the function had the key, so an
    // edit that changes nothing stores the same spec.
    const keep = (v, key) => ((Array.isArray(v) ? v.length : Object.keys(v).length) || key in o ? v : undefined);
    const body = {
      service: name, image, namespace: FORM.ns,
      envProcess: $("deploy-fprocess").value.trim(),
      envVars: keep(maps["deploy-env"], "envVars"), labels: keep(labels, "labels"),
      annotations: keep(annotations, "annotations"), secrets: keep(secrets, "secrets"),
      limits: resources(o.limits, $("deploy-mem").value.trim(), $("deploy-cpu").value.trim()),
      requests: resources(o.requests, $("deploy-mem-req").value.trim(), $("deploy-cpu-req").value.trim()),
      readOnlyRootFilesystem: $("deploy-readonly").checked,
    };
    // Kept as they were: the API takes them, the form has no field.
    if (Array.isArray(o.constraints)) body.constraints = o.constraints;
    return body;
  }

  async function submit(ev) {
    ev.preventDefault();
    const body = build();
    if (!body) return;
    const edit = FORM.mode === "edit";
    $("deploy-submit").disabled = true;
    try {
      // New: POST only (409 when the name is taken). Edit: PUT only (404
      // when it went away). Never the other, so nothing is replaced by
      // accident.
      await api(edit ? "PUT" : "POST", "../system/functions", body);
    } catch (err) {
      $("deploy-submit").disabled = false;
      if (err.status === 401) return;
      if (err.status === 409) {
        fieldError($("deploy-name"), $("deploy-name-error"), "A function named " + body.service + " exists already in " +
          FORM.ns + ". Choose another name, or open it and use Edit.");
        $("deploy-name").focus();
        return;
      }
      showError($("deploy-error"), (edit ? "Cannot save: " : "Cannot deploy: ") + err.message);
      $("deploy-error").scrollIntoView({ block: "nearest" });
      return;
    }
    $("deploy-submit").disabled = false;
    say((edit ? "Saved " : "Deployed ") + body.service + ".");
    SF.go(link.fn(body.service));
  }

  SF.views.deploy = {
    id: "view-deploy",
    title: (p) => (p.mode === "edit" ? "Edit " + p.name : "New function"),
    init() {
      $("deploy-form").addEventListener("submit", submit);
      $("deploy-image").addEventListener("change", updateImageRef);
      // A field's error goes once it is changed.
      $("deploy-name").addEventListener("input", () => fieldError($("deploy-name"), $("deploy-name-error"), ""));
      document.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape" && !$("view-deploy").hidden && !$("confirm").open) SF.go($("deploy-cancel").getAttribute("href"));
      });
    },
    enter,
  };
})();
