// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews the
// lease every `renewMs`; a candidate takes it over once `leaseDurationSeconds` have passed since
// the last renewal. Optimistic concurrency (resourceVersion) makes a takeover race safe. On a
// clean shutdown the holder releases the lease so a standby takes over at once.
import type { Logger } from "pino";
import { ApiError, type KubeClient } from "./client.js";
import { paths } from "./paths.js";

export interface LeaderOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewMs?: number;
  retryMs?: number;
  logger?: Logger;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date) => d.toISOString().replace("Z", "000Z");

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly duration: number;

  constructor(private readonly o: LeaderOptions) {
    this.duration = o.leaseDurationSeconds ?? 10;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return paths.one(paths.leases(this.o.namespace), this.o.name);
  }

  /** Tries once to acquire or renew; returns whether this instance holds the lease. */
  async tryAcquireOrRenew(now = new Date()): Promise<boolean> {
    let lease: Lease | undefined;
    try {
      lease = await this.o.client.request<Lease>("GET", this.path);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.duration,
      renewTime: microTime(now),
    };
    if (!lease) {
      await this.o.client.request("POST", paths.leases(this.o.namespace), {
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        },
      });
      return true;
    }
    const holder = lease.spec.holderIdentity;
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = now.getTime() > renewed + (lease.spec.leaseDurationSeconds ?? this.duration) * 1000;
    if (holder && holder !== this.o.identity && !expired) return false;
    const takeover = holder !== this.o.identity;
    await this.o.client.request("PUT", this.path, {
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          ...spec,
          acquireTime: takeover ? microTime(now) : lease.spec.acquireTime,
          leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (takeover ? 1 : 0),
        },
      },
    });
    return true;
  }

  /**
   * Campaigns until elected, then keeps renewing. `onStart` runs when leadership is won;
   * `onStop` when it is lost (a renewal failed for longer than the lease lasts).
   */
  run(onStart: () => void, onStop: () => void): void {
    let lastRenew = 0;
    const tick = async () => {
      if (this.stopped) return;
      try {
        const held = await this.tryAcquireOrRenew();
        if (held) lastRenew = Date.now();
        if (held && !this.leading) {
          this.leading = true;
          this.o.logger?.info({ lease: this.o.name, identity: this.o.identity }, "became leader");
          onStart();
        } else if (!held && this.leading) {
          this.leading = false;
          this.o.logger?.warn({ lease: this.o.name }, "lost leadership");
          onStop();
        }
      } catch (e) {
        this.o.logger?.warn({ err: e }, "lease renewal failed");
        if (this.leading && Date.now() - lastRenew > this.duration * 1000) {
          this.leading = false;
          onStop();
        }
      }
      if (!this.stopped) {
        this.timer = setTimeout(tick, this.leading ? (this.o.renewMs ?? 2000) : (this.o.retryMs ?? 1000));
      }
    };
    void tick();
  }

  /** Stops campaigning and, when leading, releases the lease so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.o.client.request<Lease>("GET", this.path);
      if (lease.spec.holderIdentity !== this.o.identity) return;
      await this.o.client.request("PUT", this.path, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1 } },
      });
    } catch (e) {
      this.o.logger?.warn({ err: e }, "could not release the lease");
    }
  }
}
