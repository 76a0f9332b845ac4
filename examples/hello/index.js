// The smallest worker: `outpost dev examples/hello/index.js`
export default {
  fetch(request, env, ctx) {
    return new Response("Hello World!");
  },
};
