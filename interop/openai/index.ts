// troupe's chat messages as OpenAI chat-completions JSON, for frameworks that speak it (AutoGen among them). Loads
// no package: `troupe/interop/openai`.

export { InteropError, InteropErrorCode } from '../errors.js';
export type {
  OpenAIChatMessage,
  OpenAIContentPart,
  OpenAIImagePart,
  OpenAITextPart,
  OpenAIToolCall,
} from './format.js';
export {
  fromOpenAIMessage,
  fromOpenAIMessages,
  fromOpenAIToolCall,
  toOpenAIMessage,
  toOpenAIMessages,
  toOpenAIToolCall,
} from './format.js';
