// hello-node: the smallest nimbus (and AWS Lambda) Node.js function (ES module).
export const handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  console.log(`hello-node: greeting ${name}`);
  return {
    message: `Hello, ${name}!`,
    pid: process.pid,
    request_id: context.awsRequestId,
    function_name: context.functionName,
    function_version: context.functionVersion,
    memory_limit_in_mb: Number(context.memoryLimitInMB),
    remaining_ms: context.getRemainingTimeInMillis(),
  };
};
