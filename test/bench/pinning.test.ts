// The benchmark's CPU pinning on a real process with several threads (a Node child): every
// thread ends up on the CPUs asked for, as the kernel reports them, and the old mask comes back.
// These machines have two CPUs, which the fan-out on separate cores needs as well.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { allowedCpus, cannotPin, pin } from "../../bench/lib/pinning.ts";

const threadMasks = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).map(
    (tid) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))![1],
  );

describe("pinning processes to CPUs", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill("SIGKILL");
  });

  it("binds every thread of a process to the CPUs given, and restores the mask it had", async () => {
    expect(cannotPin()).toBeUndefined();
    child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000); console.log('up')"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await once(child.stdout!, "data");
    const pid = child.pid!;
    const before = allowedCpus(pid);
    expect(threadMasks(pid).length).toBeGreaterThan(1);

    pin([pid], "1");
    expect(allowedCpus(pid)).toBe("1");
    expect(new Set(threadMasks(pid))).toEqual(new Set(["1"]));

    pin([pid], before);
    expect(allowedCpus(pid)).toBe(before);
    expect(new Set(threadMasks(pid)).size).toBe(1);
  });

  it("says which process it could not pin", () => {
    expect(() => pin([2 ** 22 + 7], "0")).toThrow(/taskset/);
  });
});
