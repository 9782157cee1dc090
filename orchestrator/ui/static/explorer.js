// opgrid UI: the GraphQL explorer at /graphql. Plain browser JavaScript, no library.
// The editor posts {query, variables} to /graphql; the schema browser reads the
// introspection query's answer and shows one type at a time.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const INTROSPECTION = `query Schema { __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { kind name description
      fields(includeDeprecated: true) { name description isDeprecated deprecationReason
        args { name description defaultValue type { ...Ref } } type { ...Ref } }
      inputFields { name description defaultValue type { ...Ref } }
      enumValues(includeDeprecated: true) { name description isDeprecated }
      possibleTypes { name } interfaces { name } } } }
  fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType {
    kind name ofType { kind name } } } } }`;
  let types = new Map();
  let roots = [];

  async function ask(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
        "X-Opgrid-CSRF": csrf() },
      body: JSON.stringify({ query, variables }),
      credentials: "same-origin",
    });
    const text = await response.text();
    try { return JSON.parse(text); } catch (e) { return { errors: [{ message: text }] }; }
  }

  async function run() {
    const out = $("gql-result");
    let variables = {};
    const given = $("gql-variables").value.trim();
    if (given) {
      try { variables = JSON.parse(given); } catch (e) {
        out.textContent = `The variables are not valid JSON: ${e.message}`;
        out.classList.add("error");
        return;
      }
    }
    out.textContent = "Running…";
    const started = performance.now();
    const answer = await ask($("gql-query").value, variables);
    $("gql-took").textContent = `${Math.round(performance.now() - started)} ms`;
    out.classList.toggle("error", Boolean(answer.errors));
    out.textContent = JSON.stringify(answer, null, 2);
  }

  // Schema browser -----------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function typeLink(name) {
    const link = el("a", "type-link", name);
    link.href = `#${name}`;
    link.addEventListener("click", (e) => { e.preventDefault(); show(name); });
    return link;
  }

  function typeRef(ref) {  // [Run!]! with the named type clickable
    const span = el("span", "type-ref");
    if (ref.kind === "NON_NULL") { span.append(typeRef(ref.ofType), "!"); return span; }
    if (ref.kind === "LIST") { span.append("[", typeRef(ref.ofType), "]"); return span; }
    span.append(typeLink(ref.name));
    return span;
  }

  function member(item, withType) {
    const row = el("div", "member");
    row.append(el("span", "field-name", item.name));
    if (item.args && item.args.length) {
      row.append("(");
      item.args.forEach((arg, i) => {
        if (i) row.append(", ");
        row.append(el("span", "arg-name", arg.name), ": ", typeRef(arg.type));
        if (arg.defaultValue !== null && arg.defaultValue !== undefined) {
          row.append(` = ${arg.defaultValue}`);
        }
      });
      row.append(")");
    }
    if (withType) row.append(": ", typeRef(item.type));
    if (item.isDeprecated) row.append(el("span", "chip", "deprecated"));
    if (item.description) row.append(el("div", "muted", item.description));
    return row;
  }

  function show(name) {
    const type = types.get(name);
    const view = $("gql-type-view");
    view.replaceChildren();
    if (!type) { view.append(el("p", "error", `No type named ${name}.`)); return; }
    view.append(el("h3", "", type.name), el("p", "muted", type.kind.toLowerCase()));
    if (type.description) view.append(el("p", "", type.description));
    const lists = [
      ["Fields", type.fields, true], ["Input fields", type.inputFields, true],
      ["Values", type.enumValues, false],
    ];
    lists.forEach(([title, items, withType]) => {
      if (!items || !items.length) return;
      view.append(el("h4", "", title));
      items.forEach((item) => view.append(member(item, withType)));
    });
    [["Possible types", type.possibleTypes], ["Implements", type.interfaces]].forEach(
      ([title, items]) => {
        if (!items || !items.length) return;
        const row = el("div", "member");
        items.forEach((t) => row.append(typeLink(t.name), " "));
        view.append(el("h4", "", title), row);
      });
  }

  function listTypes() {
    const box = $("gql-schema");
    const wanted = $("gql-filter").value.trim().toLowerCase();
    box.replaceChildren();
    box.classList.remove("muted");
    const others = [...types.keys()].filter((n) => !n.startsWith("__") && !roots.includes(n));
    [...roots, ...others.sort()].forEach((name) => {
      if (wanted && !name.toLowerCase().includes(wanted)) return;
      const link = typeLink(name);
      if (roots.includes(name)) link.classList.add("root");
      box.append(link);
    });
  }

  async function loadSchema() {
    const answer = await ask(INTROSPECTION, {});
    if (!answer.data) {
      $("gql-schema").textContent = `Cannot read the schema: ${JSON.stringify(answer.errors)}`;
      return;
    }
    const schema = answer.data.__schema;
    types = new Map(schema.types.map((t) => [t.name, t]));
    roots = [schema.queryType, schema.mutationType, schema.subscriptionType]
      .filter(Boolean).map((t) => t.name);
    listTypes();
    show(schema.queryType.name);
  }

  function start() {
    if (!$("gql-query")) return;
    $("gql-run").addEventListener("click", run);
    ["gql-query", "gql-variables"].forEach((id) => $(id).addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
    }));
    $("gql-filter").addEventListener("input", listTypes);
    loadSchema();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
