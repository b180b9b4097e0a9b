// The send page's live counter: GSM 7-bit or Unicode, parts, characters left in the part and
// the credits per French recipient, as domain/text.py counts them (the server counts again at
// the preview, which is what is charged). Also the "STOP au" hint and the import notice.
(function () {
  "use strict";
  // GSM 03.38 basic table (without the escape) and extension table, as in domain/text.py.
  var BASIC = "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5" +
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9" +
    " !\"#\u00a4%&'()*+,-./0123456789:;<=>?\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1" +
    "\u00dc\u00a7\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0";
  var EXTENSION = "\f^{}\\[~]|\u20ac";
  var LIMITS = { gsm7: [160, 153], ucs2: [70, 67] };
  var STOP = /[ \r\n]stop +au +([0-9]+)\s*$/i;

  // The units of each character: GSM septets (2 for the extension table) or UTF-16 units (a
  // surrogate pair is one character of 2 units, never cut between parts).
  function measure(raw) {
    var text = raw.replace(/\\n/g, "\n");
    var gsm = true;
    var i;
    for (i = 0; i < text.length; i += 1) {
      if (BASIC.indexOf(text[i]) < 0 && EXTENSION.indexOf(text[i]) < 0) { gsm = false; break; }
    }
    var encoding = gsm ? "gsm7" : "ucs2";
    var costs = [];
    for (i = 0; i < text.length; i += 1) {
      var code = text.charCodeAt(i);
      if (gsm) {
        costs.push(EXTENSION.indexOf(text[i]) >= 0 ? 2 : 1);
      } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
        costs.push(2);
        i += 1;
      } else {
        costs.push(1);
      }
    }
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var single = LIMITS[encoding][0];
    var multi = LIMITS[encoding][1];
    if (units === 0) { return { encoding: encoding, units: 0, parts: 0, left: single }; }
    if (units <= single) { return { encoding: encoding, units: units, parts: 1, left: single - units }; }
    var parts = 1;
    var used = 0;
    costs.forEach(function (cost) {
      if (used + cost > multi) { parts += 1; used = 0; }
      used += cost;
    });
    return { encoding: encoding, units: units, parts: parts, left: multi - used };
  }

  function start() {
    var form = document.getElementById("send-form");
    if (!form) { return; }
    var message = document.getElementById("message");
    var sender = document.getElementById("sender");
    var counter = document.getElementById("counter");
    var stopRule = document.getElementById("stop-rule");
    var progress = document.getElementById("import-progress");
    var file = document.getElementById("file");
    var price = parseInt(form.getAttribute("data-price"), 10);
    var code = form.getAttribute("data-stop-code");

    function update() {
      var size = measure(message.value);
      var words = counter.dataset;
      var line = (size.encoding === "gsm7" ? words.gsm : words.ucs2) + " \u00b7 " +
        size.parts + " " + words.parts + " \u00b7 " + size.left + " " + words.left;
      if (!isNaN(price)) { line += " \u00b7 " + size.parts * price + " " + words.credits; }
      counter.textContent = line;
      var named = sender.value.trim() !== "" && !/^[0-9]+$/.test(sender.value.trim());
      var found = STOP.exec(message.value);
      stopRule.hidden = !named || (found !== null && found[1] === code);
    }

    message.addEventListener("input", update);
    sender.addEventListener("input", update);
    form.addEventListener("submit", function () {
      if (file && file.files && file.files.length) { progress.hidden = false; }
    });
    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
