// One live feed per workspace: Server-Sent Events read through fetch (so that the request
// carries the CSRF header like every other), reconnecting after a second when it drops.

import { session } from "./api.js";

export class LiveFeed {
  // A workspace's events; without one ("*"), the account's workspace.* events.
  constructor(workspaceSid, onEvent, onState) {
    this.workspaceSid = workspaceSid;
    this.path = workspaceSid === "*" ? "/console/api/stream" : `/console/api/workspaces/${workspaceSid}/stream`;
    this.onEvent = onEvent;
    this.onState = onState;
    this.controller = null;
    this.closed = false;
    this.connect();
  }

  async connect() {
    while (!this.closed) {
      this.controller = new AbortController();
      try {
        const reply = await fetch(this.path, {
          headers: { Accept: "text/event-stream", "X-Switchboard-Csrf": session.csrf || "" },
          credentials: "same-origin", signal: this.controller.signal,
        });
        if (reply.status === 401) { session.onSignedOut(); return; }
        if (!reply.ok) { this.onState("unavailable"); return; }
        await this.read(reply.body.getReader());
      } catch (error) {
        if (this.closed) return;
      }
      this.onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (type === "hello") this.onState("live");
        else if (type === "taskrouter") this.onEvent(JSON.parse(data.join("\n")));
      }
    }
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
  }
}
