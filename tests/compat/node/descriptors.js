// Checks every resource shape the event bridge serves against the Worker SDK's own descriptors,
// for tests/compat/test_sdk_descriptors.py.
//
// The pinned twilio-taskrouter refuses any payload missing a property of its descriptor lists
// (ActivityProperties, ChannelProperties, TaskQueueProperties, TaskProperties,
// ReservationProperties, WorkerProperties). Two checks, against a real server:
//   1. raw RPC answers and pushed frames, property by property, against those lists read from
//      the SDK's own bundle (so a new pin brings its own lists);
//   2. the SDK's public API, which builds its descriptor classes from what the server sends:
//      Workspace.fetchWorkers / fetchWorker / fetchTaskQueues / fetchTaskQueue / fetchTask
//      (one item per page, so AfterSid and NextToken paging run), and a Worker's activities,
//      channels, reservations with their task, and every push of a task's life, with
//      enableVersionCheck (If-Match on each write: the worker's version must grow as the SDK
//      counts, on channel changes and offered reservations).
// Where the SDK skips a malformed item it logs an error instead of failing: any error it logs
// or emits is a failure too.
//
// Environment: SB_URL (the server) and SB_SETUP (JSON: tokens and the SIDs to expect).
// Prints one JSON object: {failures: [...], report: {...}}; exits 1 when there are failures.
'use strict';

const fs = require('fs');

const failures = [];
// loglevel binds console.error when a logger is made: replace it before the SDK loads.
console.error = (...args) => failures.push(`the SDK logged an error: ${args.map(String).join(' ')}`);

const { Worker, Workspace } = require('twilio-taskrouter');

const url = process.env.SB_URL;
const setup = JSON.parse(process.env.SB_SETUP);
const ebServer = `${url}/v1/wschannels`;
const wsServer = `${url.replace(/^http/, 'ws')}/v1/wschannels`;
const WAIT_MS = 10000;
const KINDS = ['Activity', 'Channel', 'TaskQueue', 'Task', 'Reservation', 'Worker'];
const DATES = ['date_created', 'date_updated', 'date_status_changed', 'virtual_start_time'];
const JSON_TEXT = ['attributes', 'addons'];
const report = {};

function sdkPropertyLists() {
  const source = fs.readFileSync(require.resolve('twilio-taskrouter'), 'utf8');
  const lists = {};
  for (const match of source.matchAll(/\.(\w+)Properties=(\[[^\]]*\])/g)) {
    lists[match[1]] = JSON.parse(match[2]);
  }
  for (const kind of KINDS) {
    if (!lists[kind]) {
      throw new Error(`the SDK bundle has no ${kind}Properties list`);
    }
  }
  return lists;
}

const lists = sdkPropertyLists();
report.required = lists;

// One payload against its kind's list, and the types the descriptors rely on.
function check(kind, where, payload) {
  if (payload === null || typeof payload !== 'object') {
    failures.push(`${where}: a ${kind} that is not an object: ${JSON.stringify(payload)}`);
    return;
  }
  const missing = lists[kind].filter((p) => !(p in payload));
  if (missing.length) {
    failures.push(`${where}: a ${kind} without ${missing.join(', ')}`);
  }
  for (const name of DATES) {
    if (name in payload && typeof payload[name] !== 'number') {
      failures.push(`${where}: ${kind}.${name} is ${JSON.stringify(payload[name])}, not epoch seconds`);
    }
  }
  for (const name of JSON_TEXT) {
    if (name in payload) {
      try {
        JSON.parse(payload[name]);
      } catch (err) {
        failures.push(`${where}: ${kind}.${name} is not JSON text: ${JSON.stringify(payload[name])}`);
      }
    }
  }
  if ('version' in payload && !Number.isInteger(payload.version)) {
    failures.push(`${where}: ${kind}.version is ${JSON.stringify(payload.version)}, not an integer`);
  }
  if (kind === 'Reservation') {
    check('Task', `${where}.task`, payload.task);
  }
}

// Every Date the SDK built must be a real date (a wrong unit or a string makes Invalid Date).
function checkDates(where, object, nullable = []) {
  for (const [name, value] of Object.entries(object)) {
    if (value instanceof Date && Number.isNaN(value.getTime())) {
      failures.push(`${where}: ${name} is an Invalid Date`);
    }
    if (value === null && /^date/.test(name) && !nullable.includes(name)) {
      failures.push(`${where}: ${name} is null`);
    }
  }
}

async function rpc(token, method, path, params = {}, apiVersion = 'v1') {
  const response = await fetch(ebServer, {
    method: 'POST',
    headers: { apiVersion, clientVersion: '2.1.1', 'Content-Type': 'application/json' },
    body: JSON.stringify({ url: path, method, params, token }),
  });
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${body.message}`);
  }
  return body.payload;
}

function once(emitter, event, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    emitter.once(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function sameList(where, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    failures.push(`${where}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

// ---------------------------------------------------------------- 1. raw answers, by the lists

async function rawPayloads() {
  const ws = `Workspaces/${setup.workspaceSid}`;
  const wk = `${ws}/Workers/${setup.workerSid}`;
  const token = setup.workerToken;
  const admin = setup.adminToken;
  check('Worker', 'GET Worker', await rpc(token, 'GET', wk));
  const listed = {
    Activity: (await rpc(token, 'GET', `${ws}/Activities`, { PageSize: 1000 })).contents,
    Channel: (await rpc(token, 'GET', `${wk}/WorkerChannels`, { PageSize: 1000 })).contents,
    Reservation: (await rpc(token, 'GET', `${wk}/Reservations`,
      { Active: 'true', PageSize: 1000 }, 'v2')).contents,
    Worker: (await rpc(admin, 'GET', `${ws}/Workers`, { PageSize: 1000 })).contents,
    TaskQueue: (await rpc(admin, 'GET', `${ws}/TaskQueues`, { PageSize: 1000 })).contents,
  };
  for (const [kind, items] of Object.entries(listed)) {
    if (!items.length) {
      failures.push(`the ${kind} list is empty: nothing was checked`);
    }
    items.forEach((item, i) => check(kind, `${kind} list [${i}]`, item));
  }
  report.lifoQueues = listed.TaskQueue.map((q) => [q.task_order, q.lifo_queue]);
  check('Reservation', 'GET Reservation',
    await rpc(token, 'GET', `${wk}/Reservations/${setup.reservationSid}`));
  check('Reservation', 'GET Task Reservation', await rpc(token, 'GET',
    `${ws}/Tasks/${setup.taskSid}/Reservations/${setup.reservationSid}`));
  check('Task', 'GET Task', await rpc(token, 'GET', `${ws}/Tasks/${setup.taskSid}`));
  for (const sid of setup.queueSids) {
    check('TaskQueue', `GET TaskQueue ${sid}`, await rpc(admin, 'GET', `${ws}/TaskQueues/${sid}`));
  }
}

// ---------------------------------------------------------------- 2a. the SDK's Workspace

async function workspaceApi() {
  const workspace = new Workspace(setup.adminToken,
    { ebServer, wsServer, logLevel: 'error', pageSize: 1 });
  const workers = await workspace.fetchWorkers();
  sameList('fetchWorkers', Array.from(workers.keys()), setup.workerSids);
  workers.forEach((w, sid) => checkDates(`fetchWorkers ${sid}`, w));
  const newestFirst = await workspace.fetchWorkers({ Ordering: 'DateCreated:desc' });
  sameList('fetchWorkers by DateCreated:desc', Array.from(newestFirst.keys()),
    [...setup.workerSids].reverse());
  const one = await workspace.fetchWorker(setup.workerSid);
  checkDates('fetchWorker', one);
  report.fetchWorker = { sid: one.sid, name: one.name, activityName: one.activityName,
    attributes: one.attributes, version: one.version };

  const queues = await workspace.fetchTaskQueues();
  sameList('fetchTaskQueues', Array.from(queues.keys()), setup.queueSids);
  queues.forEach((q, sid) => checkDates(`fetchTaskQueues ${sid}`, q));
  const byName = await workspace.fetchTaskQueues({ Ordering: 'FriendlyName:desc' });
  report.queuesByNameDesc = Array.from(byName.values()).map((q) => q.queueName);
  const queue = await workspace.fetchTaskQueue(setup.queueSids[0]);
  checkDates('fetchTaskQueue', queue);
  report.fetchTaskQueue = { sid: queue.sid, name: queue.name, taskOrder: queue.taskOrder,
    targetWorkers: queue.targetWorkers, maxReservedWorkers: queue.maxReservedWorkers };

  const task = await workspace.fetchTask(setup.taskSid);
  checkDates('fetchTask', task);
  report.fetchTask = { sid: task.sid, status: task.status, queueSid: task.queueSid,
    attributes: task.attributes };
}

// ---------------------------------------------------------------- 2b. the SDK's Worker

async function workerApi() {
  const worker = new Worker(setup.workerToken,
    { ebServer, wsServer, logLevel: 'error', enableVersionCheck: true });
  worker.on('error', (err) => failures.push(`the Worker emitted an error: ${err && err.message}`));
  // Every frame the Worker receives, checked against the lists as it arrives.
  const frameKinds = { reservation: 'Reservation', task: 'Task' };
  const seen = [];
  const signaling = () => worker._signaling;
  await once(worker, 'ready', 'ready');
  const originalEmit = signaling().emit.bind(signaling());
  signaling().emit = (eventType, payload, ...rest) => {
    if (typeof eventType === 'string' && eventType.includes('.') && payload) {
      seen.push(eventType);
      const prefix = eventType.split('.')[0];
      const kind = frameKinds[prefix] ||
        (/^worker\.(capacity|channel)/.test(eventType) ? 'Channel' : 'Worker');
      check(kind, `frame ${eventType}`, payload);
    }
    return originalEmit(eventType, payload, ...rest);
  };

  checkDates('worker', worker, ['dateStatusChanged']);
  report.activities = Array.from(worker.activities.values()).map((a) => a.name);
  sameList('worker.activities count', worker.activities.size, setup.activityCount);
  sameList('worker.channels count', worker.channels.size, setup.channelCount);
  worker.activities.forEach((a) => checkDates(`activity ${a.sid}`, a));
  worker.channels.forEach((c) => checkDates(`channel ${c.sid}`, c, ['lastReservedTime']));
  const reservation = worker.reservations.get(setup.reservationSid);
  if (!reservation) {
    failures.push(`the Worker did not load reservation ${setup.reservationSid}`);
    return;
  }
  checkDates('reservation', reservation);
  checkDates('reservation.task', reservation.task);

  // Channel pushes: capacity, then availability.
  const chat = Array.from(worker.channels.values()).find((c) => c.taskChannelUniqueName === 'chat');
  const wk = `Workspaces/${setup.workspaceSid}/Workers/${setup.workerSid}`;
  const capacity = once(chat, 'capacityUpdated', 'capacityUpdated');
  await rpc(setup.workerToken, 'POST', `${wk}/WorkerChannels/${chat.sid}`, { Capacity: 3 });
  await capacity;
  const availability = once(chat, 'availabilityUpdated', 'availabilityUpdated');
  await rpc(setup.workerToken, 'POST', `${wk}/WorkerChannels/${chat.sid}`, { Available: false });
  await availability;
  report.chat = { capacity: chat.capacity, available: chat.available };

  // A task's whole life: accepted, updated, wrapping (with a reason), completed.
  const task = reservation.task;
  const accepted = once(reservation, 'accepted', 'reservation accepted');
  await reservation.accept();
  await accepted;
  const updated = once(task, 'updated', 'task updated');
  await task.setAttributes({ type: 'billing', step: 2 });
  await updated;
  const wrapup = once(reservation, 'wrapup', 'reservation wrapup');
  const taskWrapup = once(task, 'wrapup', 'task wrapup');
  await task.wrapUp({ reason: 'customer hung up' });
  await Promise.all([wrapup, taskWrapup]);
  report.wrapping = { status: task.status, reason: task.reason };
  const completed = once(reservation, 'completed', 'reservation completed');
  const taskCompleted = once(task, 'completed', 'task completed');
  await task.complete('resolved');
  await Promise.all([completed, taskCompleted]);
  report.completed = { status: task.status, reason: task.reason };

  // A reservation pushed while connected (reservation.created), then canceled.
  const created = once(worker, 'reservationCreated', 'reservationCreated');
  const newTaskSid = await worker.createTask('+15550100', '+15550199', setup.workflowSid,
    setup.queueSids[0], { attributes: { type: 'callback' } });
  const pushed = await created;
  checkDates('pushed reservation', pushed);
  checkDates('pushed reservation.task', pushed.task);
  report.pushed = { task: pushed.task.sid === newTaskSid, status: pushed.status };
  const canceled = once(pushed, 'canceled', 'reservation canceled');
  await rpc(setup.workerToken, 'POST', `Workspaces/${setup.workspaceSid}/Tasks/${newTaskSid}`,
    { AssignmentStatus: 'canceled', Reason: 'not needed' });
  await canceled;

  // The worker's own changes: activity and attributes.
  const unavailable = Array.from(worker.activities.values()).find((a) => a.name === 'Unavailable');
  const activity = once(worker, 'activityUpdated', 'activityUpdated');
  await unavailable.setAsCurrent();
  await activity;
  const attributes = once(worker, 'attributesUpdated', 'attributesUpdated');
  await worker.setAttributes({ skills: ['billing'], level: 4 });
  await attributes;
  checkDates('worker after updates', worker);
  report.worker = { activity: worker.activity.name, attributes: worker.attributes };
  report.frames = seen;
  worker.disconnect();
}

process.on('uncaughtException', (err) => failures.push(`uncaught: ${err && err.stack}`));
process.on('unhandledRejection', (err) => failures.push(`unhandled: ${err && err.stack}`));

(async () => {
  // Each part on its own, so that one stopping does not hide what the others find.
  for (const part of [rawPayloads, workspaceApi, workerApi]) {
    try {
      await part();
    } catch (err) {
      failures.push(`${part.name} stopped: ${err && err.stack ? err.stack : err}`);
    }
  }
  process.stdout.write(JSON.stringify({ failures, report }) + '\n');
  process.exit(failures.length ? 1 : 0);
})();
