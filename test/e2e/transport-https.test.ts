/**
 * The in-process components over HTTPS: `bosun server` normally hands its controller manager,
 * scheduler, simulated nodes and metrics server an in-process transport
 * (src/apiserver/local.ts); with BOSUN_IN_PROCESS_TRANSPORT=https they connect over HTTPS as
 * separate processes would. This file runs the controller and scheduling scenarios again that
 * way, so both paths stay equivalent (the rest of the suite runs the in-process one).
 */
process.env['BOSUN_IN_PROCESS_TRANSPORT'] = 'https';
await import('./controllers.test.ts');
await import('./controller-credentials.test.ts');
await import('./scheduling.test.ts');
