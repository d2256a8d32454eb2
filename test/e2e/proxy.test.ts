/**
 * The service proxy in its default iptables mode, end to end (the checks: proxy-checks.ts). Run
 * under the machine-wide agent lock:
 *   flock /tmp/bosun-agent.lock node --test test/e2e/proxy.test.ts
 */
import { proxyTests } from './proxy-checks.ts';

proxyTests('iptables');
