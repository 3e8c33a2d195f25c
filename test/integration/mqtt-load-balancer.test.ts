/**
 * An MQ server behind a load balancer, end to end with a real MQ client and broker:
 * MQTT.js → simulated L4 load balancer (nft DNAT, conntrack forgets idle flows
 * after 3 s) → mosquitto, all inside a private network namespace (the fault
 * lab, lab/). MQTT's own keepalive is off. After 6 s idle, a publish:
 * without TCP keepalive it is silently lost (the client still believes it is
 * connected); with keepaliveOnEvent (idle 1 s < the balancer's 3 s) the probes
 * keep the flow alive and the message arrives.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runInNamespace } from '../../lab';
import { describeInLab, ensureBuilt } from '../faults/lab';
import { describeWhen } from './support';

const KEEPALIVE = { idle: 1000, interval: 1000, count: 5 };

interface Report {
  kernelState: { enable: boolean; idle: number; interval: number; count: number };
  deliveredBeforeIdle: boolean;
  deliveredAfterIdle: boolean;
  timerAfterIdle: { name: string } | null;
  publisherStillThinksItIsConnected: boolean;
}

function scenario(useTcpKeepalive: boolean): Promise<Report> {
  return runInNamespace<Report>({
    script: path.join(__dirname, 'fixtures', 'mqtt-behind-load-balancer.js'),
    args: { useTcpKeepalive, keepalive: KEEPALIVE, idleMs: 6000, lbTimeoutSeconds: 3, deliveryWaitMs: 2000, brokerPort: 1883 },
    timeoutMs: 40_000,
  });
}

const mosquittoMissing =
  spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0 ? undefined : 'mosquitto is not installed (apt-get install -y mosquitto)';

describeWhen('MQTT behind a load balancer (mosquitto in a namespace)', mosquittoMissing, () => {
  describeInLab('loadBalancer', 'MQTT.js → L4 load balancer (3 s idle timeout) → mosquitto, MQTT keepalive 0, 6 s idle', () => {
    beforeAll(() => ensureBuilt(), 120_000);

    test('without TCP keepalive the publish after the idle period is lost; with it, it arrives', async () => {
      const [without, withKeepalive] = await Promise.all([scenario(false), scenario(true)]);
      console.log(`mqtt behind LB: without ${JSON.stringify(without)}\nwith ${JSON.stringify(withKeepalive)}`);

      // The path works before the idle period in both runs: what follows is the balancer's doing.
      expect(without.deliveredBeforeIdle).toBe(true);
      expect(withKeepalive.deliveredBeforeIdle).toBe(true);

      expect(without.kernelState.enable).toBe(false);
      expect(without.deliveredAfterIdle).toBe(false);
      expect(without.publisherStillThinksItIsConnected).toBe(true); // the zombie: no error, message gone

      expect(withKeepalive.kernelState).toMatchObject({ enable: true, ...KEEPALIVE });
      expect(withKeepalive.timerAfterIdle?.name).toBe('keepalive'); // ss -tino: probes are running
      expect(withKeepalive.deliveredAfterIdle).toBe(true);
    }, 60_000);
  });
});
