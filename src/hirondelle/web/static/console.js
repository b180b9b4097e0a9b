// The API console: redraw the curl and Python samples as the form changes, exactly as
// domain/console.py draws them on the server (change both together). The method is chosen
// with the "Choose" button, not on change: a keyboard user moving through the list with the
// arrow keys must not leave the page at each step. No inline script: the policy forbids it.
"use strict";

(function () {
  var form = document.getElementById("call");
  if (!form) { return; }
  var data = form.dataset;
  var KEY = data.keyVariable;

  function shellQuote(text) { return "'" + text.split("'").join("'\"'\"'") + "'"; }
  function literal(text) { return JSON.stringify(text); }

  // Python's urlencode (quote_plus): letters, digits and _.-~ kept, spaces as "+".
  function plus(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    }).replace(/%20/g, "+");
  }
  // Python's quote(value, safe=""): as encodeURIComponent, and !'()* escaped too.
  function pathPart(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function collect() {
    var request = { rest: data.rest === "yes", verb: data.verb, path: data.path, form: [], query: [], body: "" };
    form.querySelectorAll("[data-role]").forEach(function (field) {
      var role = field.dataset.role, value = field.value;
      if (role === "path") {
        request.path = request.path.split("{" + field.name + "}").join(pathPart(value));
      } else if (role === "body") {
        request.body = value;
      } else if (value !== "") {
        request[role].push([field.name, value]);
      }
    });
    var query = request.query.map(function (p) { return plus(p[0]) + "=" + plus(p[1]); }).join("&");
    request.target = request.path + (query ? "?" + query : "");
    return request;
  }

  function curl(r) {
    var url = shellQuote(data.base.replace(/\/+$/, "") + r.target), lines;
    if (r.rest) {
      lines = ["curl -sS -X " + r.verb + " " + url, "-u \"" + data.login + ":$" + KEY + "\""];
      if (r.body) {
        lines.push("-H 'Content-Type: application/json'");
        lines.push("--data-binary " + shellQuote(r.body));
      }
    } else {
      lines = ["curl -sS " + url, "--data-urlencode " + shellQuote("login=" + data.login),
               "--data-urlencode \"apiKey=$" + KEY + "\""];
      r.form.forEach(function (p) { lines.push("--data-urlencode " + shellQuote(p[0] + "=" + p[1])); });
    }
    return lines.join(" \\\n  ");
  }

  function python(r) {
    var key = "os.environ[\"" + KEY + "\"]";
    var lines = ["import os", "", "import httpx", "", "answer = httpx.request(", "    \"" + r.verb + "\",",
                 "    " + literal(data.base.replace(/\/+$/, "") + r.target) + ","];
    if (r.rest) {
      lines.push("    auth=(" + literal(data.login) + ", " + key + "),");
      if (r.body) {
        lines.push("    headers={\"Content-Type\": \"application/json\"},");
        lines.push("    content=" + literal(r.body) + ",");
      }
    } else {
      lines.push("    data={");
      lines.push("        \"login\": " + literal(data.login) + ",");
      lines.push("        \"apiKey\": " + key + ",");
      r.form.forEach(function (p) { lines.push("        " + literal(p[0]) + ": " + literal(p[1]) + ","); });
      lines.push("    },");
    }
    lines.push(")", "print(answer.status_code, answer.text)");
    return lines.join("\n");
  }

  function redraw() {
    var request = collect();
    document.getElementById("curl").textContent = curl(request);
    document.getElementById("python").textContent = python(request);
  }
  form.addEventListener("input", redraw);
  redraw();
})();
