// Workers module (Outpost and workerd): ~1 KB JSON object built per request.
import { buildJson } from "../render.js";

export default {
  fetch(request, env, ctx) {
    return Response.json(buildJson());
  },
};
