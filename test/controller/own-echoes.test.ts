// OwnEchoes: the watch event of our own write is not taken for someone else's change, whether it
// comes after the write's answer or before it; every other change is, even one that comes while
// a write of ours is in flight.
import { describe, expect, it } from "vitest";
import { OwnEchoes } from "../../src/controller/own-echoes.js";

const same = (version: string | undefined) => version;

/** A write whose answer the test gives when it likes. */
function pendingWrite(): { write: () => Promise<string | undefined>; answer: (rv: string) => void } {
  let answer!: (rv: string) => void;
  const promise = new Promise<string>((r) => (answer = r));
  return { write: () => promise, answer };
}

describe("OwnEchoes", () => {
  it("takes the event of our write for an echo once, after the answer", async () => {
    const echoes = new OwnEchoes();
    await echoes.write("cm:ns/a", async () => "5", same);
    const others: string[] = [];
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "5", () => others.push("5"));
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "5", () => others.push("5 again"));
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "6", () => others.push("6"));
    echoes.unlessEcho("MODIFIED", "cm:ns/b", "5", () => others.push("b"));
    expect(others).toEqual(["5 again", "6", "b"]);
  });

  it("unlessEcho: tells of another writer's change now, never of our echo, and of a held change once the write answers", async () => {
    const echoes = new OwnEchoes();
    await echoes.write("cm:ns/a", async () => "5", same);
    const others: string[] = [];
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "5", () => others.push("5"));
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "6", () => others.push("6"));
    expect(others).toEqual(["6"]);
    const { write, answer } = pendingWrite();
    const done = echoes.write("cm:ns/a", write, same);
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "8", () => others.push("8"));
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "7", () => others.push("7"));
    expect(others).toEqual(["6"]);
    answer("7");
    await done;
    expect(others).toEqual(["6", "8"]);
  });

  it("takes the event of our write for an echo when it comes before the answer", async () => {
    const echoes = new OwnEchoes();
    const { write, answer } = pendingWrite();
    const done = echoes.write("cm:ns/a", write, same);
    const others: string[] = [];
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "7", () => others.push("7"));
    answer("7");
    expect(await done).toBe("7");
    expect(others).toEqual([]);
    // Its version is spent: the same version again (a relist) is not ours to skip twice.
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "7", () => others.push("7 again"));
    expect(others).toEqual(["7 again"]);
  });

  it("tells of another writer's change that came while our write was in flight, once it answers", async () => {
    const echoes = new OwnEchoes();
    const { write, answer } = pendingWrite();
    const done = echoes.write("cm:ns/a", write, same);
    const others: string[] = [];
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "8", () => others.push("8"));
    echoes.unlessEcho("MODIFIED", "cm:ns/a", "9", () => others.push("9"));
    expect(others).toEqual([]);
    answer("8");
    await done;
    expect(others).toEqual(["9"]);
  });

  it("tells of every event held during a write that failed", async () => {
    const echoes = new OwnEchoes();
    const others: string[] = [];
    const done = echoes.write(
      "cm:ns/a",
      async () => {
        echoes.unlessEcho("MODIFIED", "cm:ns/a", "3", () => others.push("3"));
        expect(others).toEqual([]);
        throw new Error("conflict");
      },
      same,
    );
    await expect(done).rejects.toThrow("conflict");
    expect(others).toEqual(["3"]);
  });

  it("never takes a deletion for an echo, in flight or not, and forgets the version written", async () => {
    const echoes = new OwnEchoes();
    await echoes.write("cm:ns/a", async () => "5", same);
    const others: string[] = [];
    echoes.unlessEcho("DELETED", "cm:ns/a", "6", () => others.push("deleted 6"));
    echoes.unlessEcho("ADDED", "cm:ns/a", "5", () => others.push("added 5"));
    const { write, answer } = pendingWrite();
    const done = echoes.write("cm:ns/a", write, same);
    echoes.unlessEcho("DELETED", "cm:ns/a", "10", () => others.push("deleted 10"));
    expect(others).toEqual(["deleted 6", "added 5", "deleted 10"]);
    answer("11");
    await done;
    expect(others).toEqual(["deleted 6", "added 5", "deleted 10"]);
  });
});
