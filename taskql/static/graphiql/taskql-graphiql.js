// Starts GraphiQL from the page's JSON config; a file, not an inline script, so the CSP can forbid inline code.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("taskql-graphiql-config").textContent);

  // GraphiQL keeps headers in several places (tab state, history, favourites). Unless the operator
  // opted in, keep every "headers" value in this page's memory only: it holds a bearer token.
  function headerlessStorage() {
    var memory = new Map();
    function scrub(value) {
      var parsed;
      try {
        parsed = JSON.parse(value);
      } catch (error) {
        return value; // plain text, such as the query
      }
      if (parsed === null || typeof parsed !== "object") {
        return value;
      }
      return JSON.stringify(parsed, function (key, item) {
        return key === "headers" ? null : item;
      });
    }
    return {
      getItem: function (key) {
        return memory.has(key) ? memory.get(key) : window.localStorage.getItem(key);
      },
      setItem: function (key, value) {
        if (/headers$/i.test(key)) {
          memory.set(key, value);
        } else {
          window.localStorage.setItem(key, scrub(value));
        }
      },
      removeItem: function (key) {
        memory.delete(key);
        window.localStorage.removeItem(key);
      },
      clear: function () {
        memory.clear();
        Object.keys(window.localStorage)
          .filter(function (key) { return key.indexOf("graphiql:") === 0; })
          .forEach(function (key) { window.localStorage.removeItem(key); });
      },
      get length() {
        return Object.keys(window.localStorage).filter(function (key) {
          return key.indexOf("graphiql:") === 0;
        }).length;
      },
    };
  }

  // The example header is a placeholder, not a token: sending it would make the server refuse even
  // the schema introspection (a present but bad header is a 401), so it is left out of requests.
  function withoutPlaceholder(input, init) {
    var headers = Object.assign({}, init && init.headers);
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === "authorization" && headers[name] === config.placeholder) {
        delete headers[name];
      }
    });
    return window.fetch(input, Object.assign({}, init, { headers: headers }));
  }

  var h = React.createElement;
  var fetcher = GraphiQL.createFetcher({ url: config.url, fetch: withoutPlaceholder });
  var footer = config.tokenHint
    ? h(
        GraphiQL.Footer,
        null,
        h(
          "p",
          { className: "taskql-note" },
          "Development: get a token with ",
          h("code", null, config.tokenHint),
          " and paste it into the Headers tab."
        )
      )
    : null;

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    h(
      GraphiQL,
      {
        fetcher: fetcher,
        defaultQuery: config.query,
        defaultHeaders: config.headers,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: "headers",
        shouldPersistHeaders: config.persistHeaders,
        showPersistHeadersSettings: false,
        storage: config.persistHeaders ? undefined : headerlessStorage(),
        inputValueDeprecation: true,
      },
      h(GraphiQL.Logo, null, "taskql"),
      footer
    )
  );
})();
