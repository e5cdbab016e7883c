// Tells the watch events of the controller's own writes from everyone else's changes, so a write
// of ours does not re-queue its object, and a change by someone else always does.

/** A watch event that came while a write of its object was in flight. */
interface HeldEvent {
  resourceVersion?: string;
  /** What the event means if it was not our write's: run once the write has answered. */
  changedByOthers: () => void;
}

export class OwnEchoes {
  /**
   * Per object we wrote (a key such as `cm:ns/name`), the resourceVersion of our last write, until
   * its watch event comes (or the object is deleted, or written again).
   */
  private readonly written = new Map<string, string>();
  /**
   * Objects with writes of ours in flight, and the events that came meanwhile: the event of our
   * write can arrive before the response that tells its resourceVersion. Those events are judged
   * when the write answers; any with another version was someone else's change.
   */
  private readonly inFlight = new Map<string, { writes: number; held: HeldEvent[] }>();

  /** Runs one of our writes of `key`; `versionOf` reads the resourceVersion it got from its answer. */
  async write<A>(
    key: string,
    write: () => Promise<A>,
    versionOf: (answer: A) => string | undefined,
  ): Promise<A> {
    const flight = this.inFlight.get(key) ?? { writes: 0, held: [] };
    this.inFlight.set(key, flight);
    flight.writes++;
    let version: string | undefined;
    try {
      const answer = await write();
      version = versionOf(answer);
      if (version) this.written.set(key, version);
      return answer;
    } finally {
      if (--flight.writes === 0) {
        this.inFlight.delete(key);
        for (const event of flight.held) {
          if (event.resourceVersion === version) this.written.delete(key);
          else event.changedByOthers();
        }
      }
    }
  }

  /**
   * Runs `changedByOthers` for a watch event of `key` that is not the echo of our own write: now,
   * or, while a write of `key` is in flight, once that write has answered (see isEcho).
   */
  unlessEcho(
    type: string,
    key: string,
    resourceVersion: string | undefined,
    changedByOthers: () => void,
  ): void {
    if (!this.isEcho(type, key, resourceVersion, changedByOthers)) changedByOthers();
  }

  /**
   * True when a watch event of `key` is the echo of our own write. Otherwise false, or, while a
   * write of `key` is in flight, true for now with `changedByOthers` run once that write has
   * answered if the event turns out not to be its echo.
   */
  private isEcho(
    type: string,
    key: string,
    resourceVersion: string | undefined,
    changedByOthers: () => void,
  ): boolean {
    if (type === "DELETED") {
      this.written.delete(key);
      return false;
    }
    const flight = this.inFlight.get(key);
    if (flight) {
      flight.held.push({ resourceVersion, changedByOthers });
      return true;
    }
    if (resourceVersion === undefined || this.written.get(key) !== resourceVersion) return false;
    this.written.delete(key);
    return true;
  }
}
