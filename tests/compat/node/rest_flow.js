// Drives the official twilio-node library (npm `twilio`) for tests/compat/test_twilio_node.py:
// a whole application against Switchboard, changed only in where its two APIs live.
//
// Environment:
//   SB_URL          the server, e.g. http://127.0.0.1:8080
//   SB_ACCOUNT_SID  SB_AUTH_TOKEN   the account's credentials
//
// Prints one JSON object: what each step saw, for the test to assert. A step that throws
// something unexpected ends the script with {"failed": {step, error}} and exit code 1.
'use strict';

const twilio = require('twilio');

const url = process.env.SB_URL;
const accountSid = process.env.SB_ACCOUNT_SID;
const authToken = process.env.SB_AUTH_TOKEN;

// The SDK's own HTTP client, remembering each request (to see the pages `each` followed).
class RecordingClient extends twilio.RequestClient {
  constructor() {
    super();
    this.requests = [];
  }

  request(opts) {
    const query = new URLSearchParams(opts.params || {}).toString();
    this.requests.push(`${opts.method.toUpperCase()} ${opts.uri}${query ? `?${query}` : ''}`);
    return super.request(opts);
  }
}

// What pointing an application at Switchboard takes: both product base URLs (TaskRouter for
// everything, Api for keys). TWILIO_EDGE and TWILIO_REGION must be unset (the test runs this
// without them): the library would rewrite the host name with them.
function connect(username, password, options) {
  const client = twilio(username, password, options);
  client.taskrouter.baseUrl = url;
  client.api.baseUrl = url;
  return client;
}

function describeError(err) {
  return {
    restException: err instanceof twilio.RestException,
    status: err.status,
    code: err.code,
    message: err.message,
    moreInfo: err.moreInfo,
  };
}

async function refused(promise) {
  try {
    await promise;
  } catch (err) {
    return describeError(err);
  }
  return { refused: false };
}

async function main() {
  const out = {};
  let step = 'configuration';
  const recorder = new RecordingClient();
  const client = connect(accountSid, authToken, { httpClient: recorder });
  try {
    // ------------------------------------------------------------ configuration
    const created = await client.taskrouter.v1.workspaces.create({
      friendlyName: `node-${Date.now()}`,
    });
    const workspace = client.taskrouter.v1.workspaces(created.sid);
    const busy = await workspace.activities.create({ friendlyName: 'Busy', available: false });
    const activities = await workspace.activities.list();
    const available = activities.find((a) => a.friendlyName === 'Available');
    const billing = await workspace.taskQueues.create({
      friendlyName: 'Billing', targetWorkers: "skills HAS 'billing'",
    });
    const workflow = await workspace.workflows.create({
      friendlyName: 'Support',
      taskReservationTimeout: 30,
      configuration: JSON.stringify({
        task_routing: {
          filters: [{ expression: "type == 'billing'", targets: [{ queue: billing.sid }] }],
          default_filter: { queue: billing.sid },
        },
      }),
    });
    const alice = await workspace.workers.create({
      friendlyName: 'alice',
      activitySid: available.sid,
      attributes: JSON.stringify({ skills: ['billing'], level: 3 }),
    });
    out.configuration = {
      workspace: { sid: created.sid, friendlyName: created.friendlyName },
      activities: activities.map((a) => ({ name: a.friendlyName, available: a.available })),
      busy: { name: busy.friendlyName, available: busy.available },
      queue: { name: billing.friendlyName, targetWorkers: billing.targetWorkers },
      workflow: {
        name: workflow.friendlyName,
        timeout: workflow.taskReservationTimeout,
        configuration: JSON.parse(workflow.configuration),
      },
      worker: {
        name: alice.friendlyName,
        activity: alice.activityName,
        available: alice.available,
        attributes: JSON.parse(alice.attributes),
        dateCreatedIsDate: alice.dateCreated instanceof Date && !Number.isNaN(+alice.dateCreated),
      },
      queueMembers: (await workspace.workers.list({ taskQueueSid: billing.sid }))
        .map((w) => w.friendlyName),
    };

    // ------------------------------------------------------------ the task's lifecycle
    step = 'lifecycle';
    const task = await workspace.tasks.create({
      workflowSid: workflow.sid, attributes: JSON.stringify({ type: 'billing' }),
    });
    const [offered] = await workspace.tasks(task.sid).reservations.list();
    const accepted = await workspace.workers(alice.sid).reservations(offered.sid)
      .update({ reservationStatus: 'accepted' });
    const assigned = await workspace.tasks(task.sid).fetchWithHttpInfo();
    const etag = assigned.headers.etag; // Node's HTTP parser lower-cases every name
    const completed = await workspace.tasks(task.sid).update({
      assignmentStatus: 'completed', reason: 'resolved', ifMatch: etag,
    });
    const finished = await workspace.tasks(task.sid).reservations(offered.sid).fetch();
    out.lifecycle = {
      created: { status: task.assignmentStatus, queue: task.taskQueueFriendlyName,
        attributes: JSON.parse(task.attributes) },
      offered: { worker: offered.workerName, status: offered.reservationStatus },
      accepted: accepted.reservationStatus,
      assigned: { status: assigned.body.assignmentStatus, statusCode: assigned.statusCode,
        etag, requestId: assigned.headers['twilio-request-id'] },
      completed: { status: completed.assignmentStatus, reason: completed.reason },
      reservation: finished.reservationStatus,
      worker: (await workspace.workers(alice.sid).fetch()).activityName,
    };

    // ------------------------------------------------------------ paging
    step = 'paging';
    for (let i = 1; i <= 4; i += 1) {
      await workspace.workers.create({ friendlyName: `extra-${i}` });
    }
    recorder.requests.length = 0;
    const eachNames = [];
    await workspace.workers.each({ pageSize: 2 }, (worker) => {
      eachNames.push(worker.friendlyName);
    });
    const pagesRequested = recorder.requests.filter((r) => r.startsWith('GET ')
      && r.split('?')[0].endsWith('/Workers'));
    const listed = await workspace.workers.list({ pageSize: 2, limit: 3 });
    const firstPage = await workspace.workers.page({ pageSize: 2 });
    const secondPage = await firstPage.nextPage();
    out.paging = {
      each: eachNames,
      pagesRequested,
      limited: listed.map((w) => w.friendlyName),
      firstPage: firstPage.instances.map((w) => w.friendlyName),
      secondPage: secondPage.instances.map((w) => w.friendlyName),
    };

    // ------------------------------------------------------------ errors
    step = 'errors';
    out.errors = {
      notFound: await refused(workspace.workers(`WK${'0'.repeat(32)}`).fetch()),
      invalid: await refused(workspace.taskQueues.create({
        friendlyName: 'Broken', targetWorkers: 'skills HAS',
      })),
      staleEtag: await refused(workspace.tasks(task.sid).update({ ifMatch: etag, priority: 3 })),
      acceptedTwice: await refused(workspace.workers(alice.sid).reservations(offered.sid)
        .update({ reservationStatus: 'accepted' })),
      wrongToken: await refused(connect(accountSid, 'wrong').taskrouter.v1.workspaces.list()),
    };

    // ------------------------------------------------------------ API keys
    step = 'keys';
    const key = await client.newKeys.create({ friendlyName: 'node key' });
    const keyClient = connect(key.sid, key.secret, { accountSid });
    const viaKey = await keyClient.taskrouter.v1.workspaces(created.sid).fetch();
    const keySids = (await client.keys.list()).map((k) => k.sid);
    const removed = await client.keys(key.sid).remove();
    out.keys = {
      sid: key.sid,
      friendlyName: key.friendlyName,
      hasSecret: typeof key.secret === 'string' && key.secret.length > 0,
      workspaceViaKey: viaKey.friendlyName,
      listed: keySids.includes(key.sid),
      removed,
      afterRemoval: await refused(keyClient.taskrouter.v1.workspaces(created.sid).fetch()),
    };

    step = 'cleanup';
    out.workspaceRemoved = await workspace.remove();
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ ...out, failed: {
      step, error: describeError(err), stack: err && err.stack,
    } })}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main();
