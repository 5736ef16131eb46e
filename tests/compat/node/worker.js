// Drives the official twilio-taskrouter Worker SDK for tests/compat/test_worker_sdk.py.
//
// Environment:
//   SB_URL      the server, e.g. http://127.0.0.1:8080
//   SB_WORKERS  JSON list of {"token": "...", "options": {...}}: one SDK Worker each (more can
//               be added later with the "connect" command)
//
// Writes one JSON object per line on stdout: what each Worker saw ({"w": index, "event": ...})
// and the result of each command ({"w": index, "id": n, "event": "result", "ok": ...}).
// Reads one JSON command per line on stdin: {"id": n, "w": index, "op": "...", ...}.
'use strict';

const readline = require('readline');
const { Worker } = require('twilio-taskrouter');

const url = process.env.SB_URL;
const specs = JSON.parse(process.env.SB_WORKERS);
const ebServer = `${url}/v1/wschannels`;
const wsServer = `${url.replace(/^http/, 'ws')}/v1/wschannels`;

function emit(w, event, data) {
  process.stdout.write(JSON.stringify(Object.assign({ w, event }, data)) + '\n');
}

function describeTransfer(t) {
  if (!t) {
    return null;
  }
  return {
    sid: t.sid,
    status: t.status,
    mode: t.mode,
    type: t.type,
    to: t.to,
    workerSid: t.workerSid,
    reservationSid: t.reservationSid,
    queueSid: t.queueSid,
    workflowSid: t.workflowSid,
    failedReason: t.transferFailedReason || null,
  };
}

function describeReservation(r) {
  return {
    reservation: r.sid,
    status: r.status,
    timeout: r.timeout,
    task: r.task.sid,
    taskStatus: r.task.status,
    attributes: r.task.attributes,
    priority: r.task.priority,
    queue: r.task.queueName,
    workflow: r.task.workflowName,
    age: r.task.age,
    // An incoming transfer: the reservation's own, and the task's view of it.
    transfer: describeTransfer(r.transfer),
    incoming: describeTransfer(r.task.transfers && r.task.transfers.incoming),
  };
}

function watchOutgoing(w, task) {
  task.on('transferInitiated', (outgoing) => {
    emit(w, 'task.transferInitiated', Object.assign({ task: task.sid },
      describeTransfer(outgoing)));
    for (const name of ['attemptFailed', 'failed', 'canceled', 'completed']) {
      outgoing.on(name, (t) => emit(w, `transfer.${name}`, Object.assign({ task: task.sid },
        describeTransfer(t))));
    }
  });
}

const watched = new WeakSet();

function watchReservation(w, r) {
  if (watched.has(r)) {
    return;
  }
  watched.add(r);
  for (const name of ['accepted', 'rejected', 'timeout', 'canceled', 'rescinded', 'completed',
    'wrapup']) {
    r.on(name, (res) => emit(w, `reservation.${name}`, describeReservation(res)));
  }
  for (const name of ['updated', 'canceled', 'completed', 'wrapup']) {
    r.task.on(name, (task) => emit(w, `task.${name}`, {
      task: task.sid, status: task.status, reason: task.reason, attributes: task.attributes,
    }));
  }
  watchOutgoing(w, r.task);
}

const workers = [];

function connect(spec) {
  const w = workers.length;
  const worker = new Worker(spec.token, Object.assign({ ebServer, wsServer, logLevel: 'silent' },
    spec.options || {}));
  workers.push(worker);
  worker.on('ready', (me) => {
    for (const r of me.reservations.values()) {
      watchReservation(w, r);
    }
    emit(w, 'ready', {
      sid: me.sid,
      name: me.name,
      activity: me.activity && me.activity.name,
      available: me.available,
      attributes: me.attributes,
      version: me.version,
      activities: Array.from(me.activities.values()).map((a) => a.name),
      channels: Array.from(me.channels.values()).map((c) => ({
        name: c.taskChannelUniqueName, capacity: c.capacity, available: c.available,
      })),
      reservations: Array.from(me.reservations.values()).map(describeReservation),
    });
  });
  worker.on('activityUpdated', (me) => emit(w, 'activityUpdated', {
    activity: me.activity.name, available: me.available,
  }));
  worker.on('attributesUpdated', (me) => emit(w, 'attributesUpdated', {
    attributes: me.attributes,
  }));
  worker.on('reservationCreated', (r) => {
    watchReservation(w, r);
    emit(w, 'reservationCreated', describeReservation(r));
  });
  worker.on('disconnected', (reason) => emit(w, 'disconnected', {
    message: reason && reason.message,
  }));
  worker.on('error', (err) => emit(w, 'error', {
    message: err && err.message, code: err && err.code,
  }));
  worker.on('tokenExpired', () => emit(w, 'tokenExpired', {}));
  return w;
}

specs.forEach(connect);

function reservationOf(worker, sid) {
  const r = worker.reservations.get(sid);
  if (!r) {
    throw new Error(`no reservation ${sid}`);
  }
  return r;
}

async function run(command) {
  if (command.op === 'connect') {
    return { w: connect({ token: command.token, options: command.options }) };
  }
  const worker = workers[command.w || 0];
  switch (command.op) {
    case 'activity': {
      const activity = Array.from(worker.activities.values()).find((a) => a.name === command.name);
      if (!activity) {
        throw new Error(`no activity ${command.name}`);
      }
      await activity.setAsCurrent(command.options || {});
      return { activity: worker.activity.name, available: worker.available };
    }
    case 'accept':
      return describeReservation(await reservationOf(worker, command.reservation).accept());
    case 'reject': {
      const options = {};
      if (command.activity) {
        options.activitySid = Array.from(worker.activities.values())
          .find((a) => a.name === command.activity).sid;
      }
      return describeReservation(await reservationOf(worker, command.reservation).reject(options));
    }
    case 'complete': {
      const task = reservationOf(worker, command.reservation).task;
      await task.complete(command.reason || 'done');
      return { task: task.sid, status: task.status, reason: task.reason };
    }
    case 'wrap': {
      const task = reservationOf(worker, command.reservation).task;
      await task.wrapUp();
      return { task: task.sid, status: task.status };
    }
    case 'transfer': {
      const task = reservationOf(worker, command.reservation).task;
      await task.transfer(command.to, command.options || {});
      return describeTransfer(task.transfers.outgoing);
    }
    case 'cancelTransfer': {
      const task = reservationOf(worker, command.reservation).task;
      return describeTransfer(await task.transfers.outgoing.cancel());
    }
    case 'wrapReservation':
      return describeReservation(await reservationOf(worker, command.reservation).wrap());
    case 'completeReservation':
      return describeReservation(await reservationOf(worker, command.reservation).complete());
    case 'reservations':
      // What the SDK holds: the Worker's reservations map.
      return Array.from(worker.reservations.values()).map(describeReservation);
    case 'attributes':
      await worker.setAttributes(command.attributes);
      return { attributes: worker.attributes };
    case 'createTask':
      return { task: await worker.createTask(command.to, command.from, command.workflow,
        command.queue, { attributes: command.attributes || {} }) };
    case 'disconnect':
      worker.disconnect();
      return {};
    case 'exit':
      process.exit(0);
      return {};
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) {
    return;
  }
  const command = JSON.parse(line);
  Promise.resolve().then(() => run(command)).then(
    (value) => emit(command.w || 0, 'result', { id: command.id, ok: true, value }),
    (err) => emit(command.w || 0, 'result', { id: command.id, ok: false, error: err.message }),
  );
}).on('close', () => process.exit(0));
