/**
 * The service proxy with `--proxy-mode nftables`, end to end (the checks: proxy-checks.ts). Run
 * under the machine-wide agent lock:
 *   flock /tmp/bosun-agent.lock node --test test/e2e/proxy-nftables.test.ts
 */
import { proxyTests } from './proxy-checks.ts';

proxyTests('nftables');
