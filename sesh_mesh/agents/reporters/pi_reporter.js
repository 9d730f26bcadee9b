// sesh turn reporter for pi (loaded per launch with `pi -e <this file>`; never installed into
// the user's pi config). It tells the local sesh daemon when a turn starts and ends, so a
// session sesh launched has an exact busy/idle source. A failure to report is silent here:
// the daemon falls back to the transcript and the pane probe.
import { spawn } from "node:child_process";

function report(state) {
  const bin = process.env.SESH_REPORT_BIN;
  if (!bin || !process.env.SESH_SESSION_ID) return;
  try {
    // --at orders the reports: two reporter processes may reach the daemon in either order.
    const child = spawn(bin, ["report", state, "--at", String(Date.now())], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // the daemon has other authorities; never break the agent over a report
  }
}

export default function (pi) {
  pi.on("agent_start", async () => report("busy"));
  pi.on("agent_end", async () => report("idle"));
}
