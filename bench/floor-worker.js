// The floor the gateway is measured against: the least a Worker in front of
// Baseten can do. Built and served exactly like the gateway; it forwards the
// request as it came (method, headers, body) to the same path upstream and
// returns the response as it came.
export default {
  fetch(request, env) {
    const { pathname, search } = new URL(request.url);
    return fetch(`${env.UPSTREAM}${pathname}${search}`, request);
  },
};

// Built with the gateway's production config, whose Durable Object bindings
// need their classes exported; the floor never calls them.
export class IdempotencyClaim {}
export class ClientMeter {}
