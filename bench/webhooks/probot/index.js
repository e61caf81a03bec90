// The smallest Probot app that does the same front-door work as `prflow serve`:
// verify the signature, parse the payload, dispatch the event. No journal.
/** @param {import('probot').Probot} app */
module.exports = (app) => {
  let n = 0;
  app.on("pull_request_review.submitted", async (context) => {
    n += context.payload.review ? 1 : 0;
  });
};
