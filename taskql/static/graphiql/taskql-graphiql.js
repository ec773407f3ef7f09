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

  // The Authorization header GraphiQL would send, if it is one: connection_init carries it.
  function authorizationOf(headers) {
    var name = Object.keys(headers || {}).find(function (key) {
      return key.toLowerCase() === "authorization";
    });
    var value = name === undefined ? null : headers[name];
    return typeof value === "string" && value !== config.placeholder ? value : null;
  }

  // The same origin's WebSocket, on the same path: wss: for an https page, which may not use ws:.
  var socketUrl =
    (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.url;

  // Browsers cannot put headers on a WebSocket, so the token travels in connection_init (the
  // graphql-transport-ws protocol, spoken by the graphql-ws client). A client is lazy: it
  // connects for its first subscription and closes after its last.
  function socketClient(authorization) {
    return graphqlWs.createClient({
      url: socketUrl,
      connectionParams: authorization === null ? {} : { Authorization: authorization },
      // graphql-ws retries 4403 by default, in case access is granted later; a refused token
      // stays refused, so say so now. Other closes (4001 at the token's exp, 1012) are retried;
      // an expired token then comes back as 4403, which the result pane shows.
      shouldRetry: function (event) {
        return typeof event === "object" && event !== null && "code" in event &&
          event.code !== graphqlWs.CloseCode.Forbidden;
      },
    });
  }

  // GraphiQL's own fetcher: queries and mutations over HTTP, subscriptions over the client, whose
  // errors (a close code, an error message) it shows in the result pane. Headers live per tab and
  // may change between runs; a new Authorization gets a new client, so a pasted token is used
  // from the next subscription on. The previous client closes once its subscriptions end.
  var current = { authorization: undefined, fetcher: null };
  function fetcherFor(headers) {
    var authorization = authorizationOf(headers);
    if (current.authorization !== authorization) {
      current = {
        authorization: authorization,
        fetcher: GraphiQL.createFetcher({
          url: config.url,
          fetch: withoutPlaceholder,
          wsClient: socketClient(authorization),
        }),
      };
    }
    return current.fetcher;
  }
  // GraphiQL parses the editor's text after a pause in typing, so a run straight after the last
  // keystroke would hand over the previous document, and a new subscription would go over HTTP.
  // The fetcher routes by the document it is given, so give it the one being sent.
  function sentDocument(query) {
    try {
      return GraphiQL.GraphQL.parse(query);
    } catch (error) {
      return null; // not a document: HTTP, and the server says why
    }
  }
  function fetcher(params, options) {
    var sent = Object.assign({}, options, { documentAST: sentDocument(params.query) });
    return fetcherFor(sent.headers)(params, sent);
  }

  var h = React.createElement;
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
