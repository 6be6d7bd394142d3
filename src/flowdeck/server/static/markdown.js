/* A small, safe Markdown renderer.
 *
 * It never parses HTML: the source is read as plain text and turned into DOM nodes built with
 * createElement/textContent, so any tags in it (script, img onerror, ...) show as literal text.
 * Supported: headings, paragraphs, line breaks, **bold**, *italic*, `code`, fenced code blocks,
 * bullet and numbered lists, block quotes, horizontal rules and [links](url) whose url is
 * http(s), mailto, or relative to this site. The one piece of markup it reads is a clickable part
 * of a RichText (a tag marked data-virt-clickable, as RichTextClickable writes it or by hand, or
 * flowdeck's earlier form, data-params and an fd-clickable class): it becomes a <button> whose
 * text and parameters are set as text, every other attribute dropped.
 */
(function () {
  "use strict";

  function safeHref(url) {
    // Judge the link as a browser's URL parser will read it: it drops tabs and line breaks
    // anywhere, control characters and spaces at the ends, and reads "\" as "/" in http(s)
    // URLs, so "\\evil.example" and "/\t/evil.example" are links to another site.
    const cleaned = url.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "");
    if (/^(https?:|mailto:)/i.test(cleaned)) return cleaned;
    // Relative links: reject anything with a scheme (javascript:, data:, vbscript:, ...).
    if (/^[a-z][a-z0-9+.-]*:/i.test(cleaned)) return null;
    const slashed = cleaned.replace(/\\/g, "/");
    if (slashed.startsWith("//")) return null; // another host, whatever the scheme
    return slashed;
  }

  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
  function unescapeHtml(text) {
    return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, function (m) { return ENTITIES[m]; });
  }

  // A clickable part of a RichText: a tag marked data-virt-clickable (the SDK's marker, written by
  // RichTextClickable or by hand: any tag, attributes in any order and quoting), or flowdeck's
  // earlier form, a tag with data-params and the class fd-clickable. It becomes a <button> whose
  // text (the tag's content, any markup in it dropped) and data-params are set as text; every
  // other attribute is dropped and only known class names are kept.
  const OPEN_TAG = /<([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s"'<>\/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*(\/?)>/g;
  const ATTRIBUTE = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const CLICKABLE_CLASSES = ["fd-clickable", "fd-clickable-link", "fd-clickable-button", "fd-primary"];

  function attributes(source) {
    const found = new Map();
    const pattern = new RegExp(ATTRIBUTE.source, "g");
    let m;
    while ((m = pattern.exec(source))) {
      const name = m[1].toLowerCase();
      const value = m[2] !== undefined ? m[2] : m[3] !== undefined ? m[3] : m[4] !== undefined ? m[4] : "";
      if (!found.has(name)) found.set(name, unescapeHtml(value));
    }
    return found;
  }

  function clickable(attrs, virt, inner) {
    const button = document.createElement("button");
    button.type = "button";
    const classes = (attrs.get("class") || "").split(/\s+/).filter(function (c) { return CLICKABLE_CLASSES.indexOf(c) >= 0; });
    if (classes.indexOf("fd-clickable") < 0) classes.unshift("fd-clickable");
    button.className = classes.join(" ");
    if (virt) button.setAttribute("data-virt-clickable", "");
    if (attrs.has("data-params")) button.setAttribute("data-params", attrs.get("data-params"));
    let text = unescapeHtml(inner.replace(/<[^>]*>/g, ""));
    if (!text.trim()) {
      const alt = /\balt\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(inner);
      text = attrs.get("aria-label") || attrs.get("title") || (alt ? unescapeHtml(alt[1] !== undefined ? alt[1] : alt[2]) : "") || "Open";
    }
    button.textContent = text;
    return button;
  }

  // The first clickable part in text: { index, end, node }, or null.
  function findClickable(text) {
    const open = new RegExp(OPEN_TAG.source, "g");
    let m;
    while ((m = open.exec(text))) {
      const attrs = attributes(m[2]);
      const virt = attrs.has("data-virt-clickable");
      const classes = (attrs.get("class") || "").split(/\s+/);
      if (!virt && !(attrs.has("data-params") && classes.indexOf("fd-clickable") >= 0)) continue;
      if (m[3]) return { index: m.index, end: open.lastIndex, node: clickable(attrs, virt, "") };
      // Its end: the matching closing tag (same-name tags inside are counted). The tag name is
      // letters, digits and "-" only, so it is safe in a pattern.
      const tags = new RegExp("<(/?)" + m[1] + "(?=[\\s/>])[^<>]*>", "gi");
      tags.lastIndex = open.lastIndex;
      let depth = 1, t;
      while ((t = tags.exec(text))) {
        if (t[1]) depth--;
        else if (!/\/>$/.test(t[0])) depth++;
        if (depth === 0) return { index: m.index, end: tags.lastIndex, node: clickable(attrs, virt, text.slice(open.lastIndex, t.index)) };
      }
    }
    return null;
  }

  // Inline spans: code first (its content is literal), then links, bold, italic. Underscores
  // emphasise only at word edges, so snake_case and __dunder__ names inside words stay as typed.
  function inline(text, parent) {
    const pattern = /(`+)([^`]+?)\1|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+?)\*\*|(?<![\w])__([^_]+?)__(?![\w])|\*([^*\s][^*]*?)\*|(?<![\w])_([^_\s][^_]*?)_(?![\w])/;
    let rest = text;
    while (rest.length) {
      const click = findClickable(rest);
      const found = pattern.exec(rest);
      if (click && (!found || click.index <= found.index)) {
        if (click.index > 0) appendText(parent, rest.slice(0, click.index));
        parent.appendChild(click.node);
        rest = rest.slice(click.end);
        continue;
      }
      const match = found;
      if (!match) {
        appendText(parent, rest);
        break;
      }
      if (match.index > 0) appendText(parent, rest.slice(0, match.index));
      if (match[2] !== undefined) {
        const code = document.createElement("code");
        code.textContent = match[2];
        parent.appendChild(code);
      } else if (match[3] !== undefined) {
        const href = safeHref(match[4]);
        if (href === null) {
          appendText(parent, match[3]);
        } else {
          const a = document.createElement("a");
          a.setAttribute("href", href);
          if (/^https?:/i.test(href)) {
            a.setAttribute("rel", "noopener noreferrer");
            a.setAttribute("target", "_blank");
          }
          inline(match[3], a);
          parent.appendChild(a);
        }
      } else if (match[5] !== undefined || match[6] !== undefined) {
        const strong = document.createElement("strong");
        inline(match[5] !== undefined ? match[5] : match[6], strong);
        parent.appendChild(strong);
      } else {
        const em = document.createElement("em");
        inline(match[7] !== undefined ? match[7] : match[8], em);
        parent.appendChild(em);
      }
      rest = rest.slice(match.index + match[0].length);
    }
  }

  function appendText(parent, text) {
    const lines = text.split(/ {2,}\n|\\\n/);
    lines.forEach(function (line, i) {
      if (i > 0) parent.appendChild(document.createElement("br"));
      parent.appendChild(document.createTextNode(line));
    });
  }

  function render(source) {
    const root = document.createElement("div");
    root.className = "markdown";
    const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    let paragraph = [];

    function flush() {
      if (paragraph.length) {
        const p = document.createElement("p");
        inline(paragraph.join("\n"), p);
        root.appendChild(p);
        paragraph = [];
      }
    }

    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (/^\s*$/.test(line)) {
        flush();
        i++;
      } else if ((m = /^```\s*([\w-]*)\s*$/.exec(line))) {
        flush();
        const pre = document.createElement("pre");
        const code = document.createElement("code");
        const body = [];
        i++;
        while (i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i++]);
        i++;
        code.textContent = body.join("\n");
        pre.appendChild(code);
        root.appendChild(pre);
      } else if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
        flush();
        // Headings inside a card start at h3 so they sit below the page and card titles.
        const level = Math.min(6, m[1].length + 2);
        const h = document.createElement("h" + level);
        inline(m[2], h);
        root.appendChild(h);
        i++;
      } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flush();
        root.appendChild(document.createElement("hr"));
        i++;
      } else if (/^\s*>/.test(line)) {
        flush();
        const quote = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quote.push(lines[i++].replace(/^\s*>\s?/, ""));
        const block = document.createElement("blockquote");
        block.appendChild(render(quote.join("\n")));
        root.appendChild(block);
      } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        flush();
        const ordered = /^\s*\d+[.)]\s+/.test(line);
        const list = document.createElement(ordered ? "ol" : "ul");
        const itemPattern = ordered ? /^\s*\d+[.)]\s+(.*)$/ : /^\s*[-*+]\s+(.*)$/;
        while (i < lines.length && itemPattern.test(lines[i])) {
          const li = document.createElement("li");
          inline(itemPattern.exec(lines[i])[1], li);
          list.appendChild(li);
          i++;
        }
        root.appendChild(list);
      } else {
        paragraph.push(line);
        i++;
      }
    }
    flush();
    return root;
  }

  window.FlowdeckMarkdown = { render: render, safeHref: safeHref };
})();
