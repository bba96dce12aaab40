// Run by AWS's own runtime interface client (aws-lambda-ric), not by nimbus's bootstrap.
export const handler = async (event, context) => {
  if (event.fail) throw new TypeError("ric boom");
  return {
    via: "aws-lambda-ric",
    event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    invokedFunctionArn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
    pid: process.pid,
  };
};
