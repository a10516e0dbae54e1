// Every view by the name a task kind gives (crowdnb/kinds: `view`); the shell looks views up here.
import { boxes } from "./boxes.js";
import { classify } from "./classify.js";
import { freetext } from "./freetext.js";
import { keypoints } from "./keypoints.js";
import { multiselect } from "./multiselect.js";
import { polygon } from "./polygon.js";
import { qa } from "./qa.js";
import { spans } from "./spans.js";

export const VIEWS = { boxes, classify, freetext, keypoints, multiselect, polygon, qa, spans };
