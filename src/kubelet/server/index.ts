/**
 * The node agent's HTTPS server (the kubelet API the API server reaches): public entry.
 * The agent core implements `AgentBackend`; `startAgentServer` serves it.
 */
export { startAgentServer, defaultAuthorize, apiServerClientName, type AgentServer, type AgentServerOptions, type AgentAuthorizer } from './server.ts';
export { HttpError, type AgentBackend } from './backend.ts';
