/**
 * Node's `http` module, taken without an ES module namespace. Importing `node:http` as an ES module
 * reads every one of its exports, and three of them (WebSocket, CloseEvent, MessageEvent) are lazy
 * getters that load Node's bundled undici: about 12 MB of resident memory in a process that never
 * uses it (the node agent's budget is 80 MB). `process.getBuiltinModule` returns the CommonJS
 * exports object and leaves those getters alone. Type-only imports of `node:http` stay as they are.
 */
export const http: typeof import('node:http') = process.getBuiltinModule('node:http');
