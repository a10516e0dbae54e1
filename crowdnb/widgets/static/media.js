// The task's own media for the choice and writing views (classify, multiselect, freetext, qa):
// an image in a fixed-height stage that zooms and pans like the drawing views, or the text.
import { h } from "./core.js";
import { ImageStage, ZOOM_KEYS } from "./imagestage.js";

export function mediaStage(ctx) {
  let stage = null;
  let hasImage = false;
  return {
    show(item) {
      hasImage = Boolean(item.img);
      if (hasImage) {
        stage ??= new ImageStage(ctx.stage, { fixedHeight: true });
        stage.show(item);
      } else ctx.stage.replaceChildren();
      if (item.text != null) ctx.stage.append(h("div", "cnb-text", item.text));
    },
    // The zoom keys, when the current item has an image.
    keys: () => (hasImage ? ZOOM_KEYS : []),
    key: (event) => hasImage && stage.key(event),
    keyup: (event) => stage?.keyup(event),
  };
}
