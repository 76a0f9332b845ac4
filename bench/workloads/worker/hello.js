// Workers module (Outpost and workerd): plain-text "Hello World!".
import { helloText, TEXT_TYPE } from "../render.js";

export default {
  fetch(request, env, ctx) {
    return new Response(helloText(), { headers: { "content-type": TEXT_TYPE } });
  },
};
