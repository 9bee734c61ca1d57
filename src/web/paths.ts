// Where the browser front-ends are served on the HTTP listener.
export const JSON_WS_PATH = '/ws';
export const SSE_PATH = '/events';
