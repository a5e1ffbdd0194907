/* Xiji Grid pages: live deadline countdowns, the three-level category picker with its search box and
   suggestions, grid search in the dispatch and log forms, and the "resolved on the spot" toggle. Plain JavaScript, no library. */
(function () {
  "use strict";
  var body = document.body;
  var T = {
    left: body.getAttribute("data-t-left") || "剩余 {t}",
    over: body.getAttribute("data-t-over") || "已超时 {t}",
    day: body.getAttribute("data-t-day") || "天"
  };

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  /* The main menu scrolls sideways on a phone: bring the active entry into view. */
  var activeTab = document.querySelector(".nav a.active");
  if (activeTab && activeTab.parentNode.scrollWidth > activeTab.parentNode.clientWidth) {
    activeTab.parentNode.scrollLeft = activeTab.offsetLeft - activeTab.parentNode.clientWidth / 3;
  }

  function duration(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    return (d ? d + T.day + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
  }

  /* Countdowns: data-due / data-warn are ISO times; the state class follows the wall clock (7x24). */
  var countdowns = Array.prototype.slice.call(document.querySelectorAll(".countdown[data-due]"));
  function tick() {
    var now = Date.now();
    countdowns.forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var warnAttr = el.getAttribute("data-warn");
      var warn = warnAttr ? Date.parse(warnAttr) : NaN;
      var left = due - now;
      var state = left < 0 ? "breached" : (!isNaN(warn) && now >= warn ? "warned" : "normal");
      var text = el.querySelector(".cd-text");
      if (text) { text.textContent = (left < 0 ? T.over : T.left).replace("{t}", duration(left)); }
      ["normal", "warned", "breached"].forEach(function (s) { el.classList.toggle("state-" + s, s === state); });
      var card = el.closest(".case-card");
      if (card) {
        ["normal", "warned", "breached", "none"].forEach(function (s) { card.classList.toggle("state-" + s, s === state); });
      }
    });
  }
  if (countdowns.length) { tick(); setInterval(tick, 1000); }

  /* Three-level category picker fed from the JSON embedded in the page. */
  var treeNode = document.getElementById("category-tree");
  var picker = document.querySelector(".cat-picker");
  if (treeNode && picker) {
    var tree = JSON.parse(treeNode.textContent);
    var hidden = document.getElementById(picker.getAttribute("data-target"));
    var selects = Array.prototype.slice.call(picker.querySelectorAll("select.cat-level"));
    var byId = {};
    (function index(nodes, parent) {
      nodes.forEach(function (n) { n.parent = parent; byId[n.id] = n; index(n.children, n); });
    })(tree, null);

    function fill(select, nodes, chosen) {
      var first = select.options[0];
      select.innerHTML = "";
      select.appendChild(first);
      nodes.forEach(function (n) {
        var o = document.createElement("option");
        o.value = n.id; o.textContent = n.name;
        if (chosen && chosen === n.id) { o.selected = true; }
        select.appendChild(o);
      });
      select.disabled = nodes.length === 0;
    }
    function update(level) {
      // level: index of the select that changed; refill the ones below it and set the hidden value.
      var chosen = null;
      for (var i = 0; i < selects.length; i++) {
        if (i > level) {
          var parent = chosen ? byId[chosen] : null;
          fill(selects[i], parent ? parent.children : [], null);
        }
        var v = selects[i].value ? parseInt(selects[i].value, 10) : null;
        if (v) { chosen = v; }
      }
      hidden.value = chosen || "";
    }
    // Restore a chosen category (a form shown again with errors).
    var path = [];
    var current = hidden.value ? byId[parseInt(hidden.value, 10)] : null;
    while (current) { path.unshift(current.id); current = current.parent; }
    fill(selects[0], tree, path[0] || null);
    for (var i = 1; i < selects.length; i++) {
      var p = path[i - 1] ? byId[path[i - 1]] : null;
      fill(selects[i], p ? p.children : [], path[i] || null);
    }
    selects.forEach(function (s, i) { s.addEventListener("change", function () { update(i); }); });

    /* Choose a node from a search result or a suggestion: the three selects follow its path. Only a tap
       chooses; a suggestion never sets the category by itself (issue 11). */
    var choose = function (id) {
      var node = byId[id], trail = [];
      while (node) { trail.unshift(node.id); node = node.parent; }
      if (!trail.length) { return; }
      fill(selects[0], tree, trail[0]);
      for (var k = 1; k < selects.length; k++) {
        var above = trail[k - 1] ? byId[trail[k - 1]] : null;
        fill(selects[k], above ? above.children : [], trail[k] || null);
      }
      hidden.value = trail[trail.length - 1];
      picker.classList.remove("has-error");
    };
    var esc = function (t) { var d = document.createElement("div"); d.textContent = t == null ? "" : String(t); return d.innerHTML; };
    var chip = function (id, text, testid) {
      return "<button type='button' class='chip' data-choose='" + id + "' data-testid='" + testid + "'>" + esc(text) + "</button>";
    };
    document.addEventListener("click", function (ev) {
      var target = ev.target.closest && ev.target.closest("[data-choose]");
      if (target) { ev.preventDefault(); choose(parseInt(target.getAttribute("data-choose"), 10)); }
    });
    var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
    var debounce = function (fn, ms) { var t = null; return function () { clearTimeout(t); t = setTimeout(fn, ms); }; };

    /* Search every node by name, part of a name, pinyin or pinyin initials (GET /api/v1/categories/search/). */
    var search = picker.querySelector(".cat-search");
    var found = picker.querySelector(".cat-search-results");
    if (search && found && window.fetch) {
      search.addEventListener("input", debounce(function () {
        var q = search.value.trim();
        if (!q) { found.hidden = true; found.innerHTML = ""; return; }
        fetch("/api/v1/categories/search/?limit=8&q=" + encodeURIComponent(q),
              { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            if (search.value.trim() !== q) { return; }
            found.innerHTML = rows.filter(function (n) { return byId[n.id]; }).map(function (n) {
              return "<li>" + chip(n.id, n.path, "category-hit-" + n.id) + "</li>";
            }).join("");
            if (!found.innerHTML) {  /* say so rather than show nothing */
              var none = document.createElement("li");
              none.className = "muted small";
              none.setAttribute("data-testid", "category-search-none");
              none.textContent = found.getAttribute("data-t-none") || "";
              found.appendChild(none);
            }
            found.hidden = false;
          }).catch(function () {});
      }, 250));
      search.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); } });
    }

    /* Suggest as the title and description are typed (POST /api/v1/categories/suggest/): the three most
       probable categories with their probabilities, and the best-matching nodes under the first. */
    var box = document.querySelector(".cat-suggest");
    var title = document.getElementById("id_title"), description = document.getElementById("id_description");
    if (box && window.fetch && (title || description)) {
      var asked = "";
      var suggest = function () {
        var text = { title: title ? title.value : "", description: description ? description.value.slice(0, 300) : "" };
        var key = text.title + "\u0000" + text.description;
        if (key === asked) { return; }
        asked = key;
        if ((text.title + text.description).trim().length < 4) { box.hidden = true; return; }
        fetch("/api/v1/categories/suggest/", {
          method: "POST", credentials: "same-origin", body: JSON.stringify(text),
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf }
        }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
          if (!data || asked !== key) { return; }
          var chips = [];
          (data.nodes || []).slice(0, 3).forEach(function (n) { if (byId[n.id]) { chips.push(chip(n.id, n.path, "suggest-node-" + n.id)); } });
          (data.categories || []).slice(0, 3).forEach(function (c) {
            var pct = c.probability < 0.005 ? "<1%" : Math.round(c.probability * 100) + "%";
            if (c.id && byId[c.id]) { chips.push(chip(c.id, c.name + " " + pct, "suggest-category-" + c.id)); }
          });
          box.querySelector(".cat-suggest-title").textContent = box.getAttribute("data-title");
          box.querySelector(".chips").innerHTML = chips.join(" ");
          box.hidden = !chips.length;
        }).catch(function () {});
      };
      var later = debounce(suggest, 300);
      if (title) { title.addEventListener("input", later); }
      if (description) { description.addEventListener("input", later); }
      suggest();
    }
  }

  /* Grid selects: narrow the options to the chosen village and to what is typed in the search box. */
  function gridFilter(form) {
    var grid = form.querySelector("select[name$='grid']");
    if (!grid) { return; }
    var village = form.querySelector("select[name$='village']");
    var search = form.querySelector(".grid-filter");
    function apply(keepSelection) {
      var v = village && village.value;
      var q = search ? search.value.trim().toLowerCase() : "";
      var visible = [];
      Array.prototype.forEach.call(grid.options, function (o) {
        if (!o.value) { return; }
        var show = (!v || o.getAttribute("data-village") === v) &&
          (!q || (o.getAttribute("data-search") || o.textContent).toLowerCase().indexOf(q) !== -1);
        o.hidden = !show; o.disabled = !show;
        if (show) { visible.push(o); }
      });
      // Never choose a grid for the user (issue 16 §4): a choice the filter hides is cleared, and only a
      // search typed down to a single grid picks that one.
      var sel = grid.options[grid.selectedIndex];
      if (sel && sel.value && sel.hidden) { grid.value = ""; }
      if (!keepSelection && q && visible.length === 1) { grid.value = visible[0].value; }
    }
    if (village) { village.addEventListener("change", function () { apply(false); }); }
    if (search) { search.addEventListener("input", function () { apply(false); }); }
    apply(true);
  }
  Array.prototype.forEach.call(document.querySelectorAll("form"), gridFilter);

  /* After a refused submission: bring the first field in error into view and focus it. */
  var firstError = document.querySelector(".has-error input:not([type=hidden]), .has-error select, .has-error textarea");
  if (firstError) {
    var holder = firstError.closest("details");
    if (holder) { holder.open = true; }
    firstError.scrollIntoView({ block: "center" });
    firstError.focus({ preventScroll: true });
  }

  /* "Resolved on the spot": the result field is shown only when ticked. */
  var spot = document.querySelector("input[name='on_the_spot']");
  var spotResult = document.querySelector(".spot-result");
  if (spot && spotResult) {
    var sync = function () { spotResult.hidden = !spot.checked; };
    spot.addEventListener("change", sync); sync();
  }
  /* Queues: a header checkbox ticks every row of its table (issue 16 build 3). */
  Array.prototype.forEach.call(document.querySelectorAll("input[data-check-all]"), function (all) {
    all.addEventListener("change", function () {
      var table = all.closest("table");
      Array.prototype.forEach.call(table.querySelectorAll("tbody input[type=checkbox]"), function (box) {
        box.checked = all.checked;
      });
    });
  });

  /* Log a case: the caller's earlier cases as the phone or name is typed (issue 16 build 1). */
  var history = document.querySelector("[data-caller-history]");
  if (history && window.fetch) {
    var phone = document.getElementById("id_complainant_phone");
    var name = document.getElementById("id_complainant_name");
    var timer = null, last = "";
    var esc = function (t) { var d = document.createElement("div"); d.textContent = t == null ? "" : String(t); return d.innerHTML; };
    var render = function (data) {
      var rows = data.by_phone.map(function (c) { return [c, history.dataset.samePhone]; })
        .concat(data.by_name.map(function (c) { return [c, history.dataset.sameName]; }));
      if (!rows.length) { history.hidden = true; return; }
      var html = "<h3>" + esc(history.dataset.title) + "</h3><p class='small'>" +
        esc(history.dataset.summary.replace("%(phone)s", data.by_phone_total).replace("%(name)s", data.by_name_total)
          .replace("%(open)s", data.open_total)) + "</p><ul>";
      rows.forEach(function (pair) {
        var c = pair[0];
        html += "<li data-history-case='" + c.id + "'><a href='/cases/" + c.id + "/' target='_blank' rel='noopener'>" +
          esc(c.number) + "</a> " + esc(c.title) + " · " + esc(c.village_name) + " · <span class='badge status-" +
          esc(c.status) + "'>" + esc(history.dataset["status" + c.status] || c.status) + "</span> · " +
          esc((c.received_at || "").slice(0, 10)) + " <span class='muted small'>" + esc(pair[1]) + "</span></li>";
      });
      history.innerHTML = html + "</ul>";
      history.hidden = false;
    };
    var look = function () {
      var query = "phone=" + encodeURIComponent(phone ? phone.value : "") + "&name=" + encodeURIComponent(name ? name.value : "");
      if (query === last) { return; }
      last = query;
      fetch("/api/v1/cases/caller-history/?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { render(data); } })
        .catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(look, 350); };
    if (phone) { phone.addEventListener("input", later); }
    if (name) { name.addEventListener("input", later); }
    later();
  }
  /* Log a case: likely duplicates of the last 30 days as the case is described (issue 11 §3), other
     callers' cases included and said so; nothing is merged from here. */
  var drafts = document.querySelector("[data-draft-duplicates]");
  if (drafts && window.fetch) {
    var labels = JSON.parse((document.getElementById("duplicate-labels") || {}).textContent || "{}");
    var field = function (id) { return document.getElementById(id); };
    var csrfToken = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
    var escHtml = function (t) { var d = document.createElement("div"); d.textContent = t == null ? "" : String(t); return d.innerHTML; };
    var sent = "", wait = null;
    var ask = function () {
      var value = function (id) { var el = field(id); return el ? el.value : ""; };
      var body = { title: value("id_title"), description: value("id_description").slice(0, 2000),
                   complainant_phone: value("id_complainant_phone"), include_other_callers: true };
      ["village", "grid", "category"].forEach(function (name) {
        var v = value("id_" + name); if (/^[0-9]+$/.test(v)) { body[name] = parseInt(v, 10); }
      });
      var key = JSON.stringify(body);
      if (key === sent) { return; }
      sent = key;
      if ((body.title + body.description).trim().length < 4 && !body.complainant_phone) { drafts.hidden = true; return; }
      fetch("/api/v1/cases/duplicates/", {
        method: "POST", credentials: "same-origin", body: key,
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (rows) {
        if (!rows || sent !== key) { return; }
        if (!rows.length) { drafts.hidden = true; drafts.innerHTML = ""; return; }
        drafts.innerHTML = "<h3>" + escHtml(drafts.dataset.title) + "</h3><ul>" + rows.map(function (s) {
          return "<li data-duplicate='" + s.case.id + "'><a href='/cases/" + s.case.id + "/' target='_blank' rel='noopener'>" +
            escHtml(s.case.number) + "</a> " + escHtml(s.case.title) + " · " + escHtml(s.case.village_name) +
            " · " + escHtml((s.case.received_at || "").slice(0, 10)) + " <span class='small muted'>" +
            escHtml(drafts.dataset.similarity) + " " + Math.round(s.similarity * 100) + "% · " +
            escHtml(labels[s.caller] || s.caller) + " · " +
            s.reasons.map(function (r) { return escHtml(labels[r] || r); }).join("、") + "</span></li>";
        }).join("") + "</ul>";
        drafts.hidden = false;
      }).catch(function () {});
    };
    var soon = function () { clearTimeout(wait); wait = setTimeout(ask, 400); };
    ["id_title", "id_description", "id_complainant_phone"].forEach(function (id) { if (field(id)) { field(id).addEventListener("input", soon); } });
    ["id_village", "id_grid"].forEach(function (id) { if (field(id)) { field(id).addEventListener("change", soon); } });
    document.addEventListener("click", function (ev) { if (ev.target.closest && ev.target.closest("[data-choose]")) { soon(); } });
    Array.prototype.forEach.call(document.querySelectorAll("select.cat-level"), function (s) { s.addEventListener("change", soon); });
  }
  /* Case list: saved filters, kept in this browser (issue 16 build 5). */
  var saved = document.querySelector("[data-saved-filters]");
  if (saved && window.localStorage) {
    var KEY = "xiji.savedFilters";
    var list = saved.querySelector(".saved-list");
    var read = function () { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } };
    var draw = function () {
      list.textContent = "";
      read().forEach(function (item, i) {
        var a = document.createElement("a");
        a.href = "?" + item.query; a.textContent = item.name; a.className = "chip";
        var x = document.createElement("button");
        x.type = "button"; x.className = "btn small"; x.textContent = "×"; x.title = saved.dataset.remove;
        x.addEventListener("click", function () { var all = read(); all.splice(i, 1); localStorage.setItem(KEY, JSON.stringify(all)); draw(); });
        list.appendChild(a); list.appendChild(x);
      });
    };
    saved.querySelector("[data-save-filter]").addEventListener("click", function () {
      var name = window.prompt(saved.dataset.prompt);
      if (!name) { return; }
      var query = window.location.search.replace(/^\?/, "").replace(/(^|&)page=\d+/, "");
      var all = read().filter(function (item) { return item.name !== name; });
      all.push({ name: name, query: query });
      localStorage.setItem(KEY, JSON.stringify(all));
      draw();
    });
    draw();
  }
})();
