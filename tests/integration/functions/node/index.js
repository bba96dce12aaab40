// Test function for the nimbus integration suite (nodejs20.x runtime).
// Handlers: index.echo returns the event; index.main dispatches on event.action.
'use strict';

class CustomNodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CustomNodeError';
  }
}

let invocations = 0;
// Identifies this process even where every instance sees the same pid (pid namespaces).
const instance = require('crypto').randomUUID();

exports.echo = async (event) => event;

const actions = {
  info: async (event, context) => ({
    pid: process.pid,
    instance,
    invocations,
    request_id: context.awsRequestId,
    function_name: context.functionName,
    function_version: context.functionVersion,
    memory_limit_in_mb: String(context.memoryLimitInMB),
    invoked_function_arn: context.invokedFunctionArn,
    correlation_id: context.correlationId,
    remaining_ms: context.getRemainingTimeInMillis(),
    env: process.env,
    cwd: process.cwd(),
  }),
  fail: async (event) => {
    throw new CustomNodeError('node boom: ' + (event.message || ''));
  },
  sleep: (event, context) =>
    new Promise((resolve) =>
      setTimeout(() => resolve({ pid: process.pid, instance, request_id: context.awsRequestId }),
                 1000 * Number(event.seconds === undefined ? 1 : event.seconds))),
  crash: async (event) => {
    process.exit(Number(event.code || 3));
  },
  log: async (event, context) => {
    console.log('node-stdout ' + (event.marker || ''));
    console.error('node-stderr ' + (event.marker || ''));
    return { pid: process.pid, instance, request_id: context.awsRequestId };
  },
};

exports.main = async (event, context) => {
  invocations += 1;
  const action = event && typeof event === 'object' ? actions[event.action] : undefined;
  if (!action) return event;
  return action(event, context);
};
