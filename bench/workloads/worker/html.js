// Workers module (Outpost and workerd): 100-row HTML table rendered per request.
import { renderHtml, HTML_TYPE } from "../render.js";

export default {
  fetch(request, env, ctx) {
    return new Response(renderHtml(), { headers: { "content-type": HTML_TYPE } });
  },
};
