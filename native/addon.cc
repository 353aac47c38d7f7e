// Registers the exports; nothing else. Every export is wrapped so that a C++ exception that
// is not already a JS error (std::bad_alloc, say) becomes one instead of ending the process.
#include <napi.h>

#include "errors.h"
#include "mapping.h"

namespace hugespan {
Napi::Value Smaps(const Napi::CallbackInfo&);
Napi::Value SmapsStreamOpen(const Napi::CallbackInfo&);
Napi::Value SmapsStreamNext(const Napi::CallbackInfo&);
Napi::Value SmapsStreamClose(const Napi::CallbackInfo&);
Napi::Value ParseSmapsText(const Napi::CallbackInfo&);
Napi::Value ReadProc(const Napi::CallbackInfo&);
Napi::Value PagemapScan(const Napi::CallbackInfo&);
Napi::Value ThpRanges(const Napi::CallbackInfo&);
Napi::Value ThpFolios(const Napi::CallbackInfo&);
Napi::Value GetPageSize(const Napi::CallbackInfo&);
Napi::Value ThpDisabled(const Napi::CallbackInfo&);
Napi::Value SetThpDisabled(const Napi::CallbackInfo&);
Napi::Value ExitNow(const Napi::CallbackInfo&);
Napi::Value WriteAll(const Napi::CallbackInfo&);
Napi::Value CollapseIn(const Napi::CallbackInfo&);
Napi::Value PidfdOpen(const Napi::CallbackInfo&);
Napi::Value PidfdAlive(const Napi::CallbackInfo&);
Napi::Value PidfdClose(const Napi::CallbackInfo&);
Napi::Value ZeroPages(const Napi::CallbackInfo&);

// Every export runs inside this: whatever escapes becomes a JS exception when the env can still
// take one, and is dropped when it cannot (worker.terminate() mid-call), so no C++ exception
// ever leaves through V8 (that is std::terminate, the whole process).
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
static Napi::Value Guarded(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  try {
    return F(info);
  } catch (const Napi::Error& e) {
    ThrowPending(env, e);
  } catch (const std::exception& e) {
    ThrowInternal(env, e.what());
  } catch (...) {
    ThrowInternal(env, "unknown C++ exception");
  }
  return Napi::Value();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegistryOf(env);
  InitLimits(env);
  const struct {
    const char* name;
    Napi::Function::Callback fn;
  } table[] = {
      {"map", Guarded<Map>},
      {"unmap", Guarded<Unmap>},
      {"commit", Guarded<Commit>},
      {"decommit", Guarded<Decommit>},
      {"madvise", Guarded<Madvise>},
      {"touch", Guarded<Touch>},
      {"readPages", Guarded<ReadPages>},
      {"randomReads", Guarded<RandomReads>},
      {"view", Guarded<View>},
      {"committed", Guarded<Committed>},
      {"live", Guarded<Live>},
      {"limits", Guarded<Limits>},
      {"mappings", Guarded<Mappings>},
      {"counters", Guarded<Counters>},
      {"smaps", Guarded<Smaps>},
      {"smapsStream", Guarded<SmapsStreamOpen>},
      {"smapsNext", Guarded<SmapsStreamNext>},
      {"smapsClose", Guarded<SmapsStreamClose>},
      {"parseSmaps", Guarded<ParseSmapsText>},
      {"readProc", Guarded<ReadProc>},
      {"pagemapScan", Guarded<PagemapScan>},
      {"thpRanges", Guarded<ThpRanges>},
      {"thpFolios", Guarded<ThpFolios>},
      {"pageSize", Guarded<GetPageSize>},
      {"thpDisabled", Guarded<ThpDisabled>},
      {"setThpDisabled", Guarded<SetThpDisabled>},
      {"exitNow", Guarded<ExitNow>},
      {"writeAll", Guarded<WriteAll>},
      {"collapseIn", Guarded<CollapseIn>},
      {"pidfdOpen", Guarded<PidfdOpen>},
      {"pidfdAlive", Guarded<PidfdAlive>},
      {"pidfdClose", Guarded<PidfdClose>},
      {"zeroPages", Guarded<ZeroPages>},
  };
  for (const auto& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace hugespan

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hugespan::Init(env, exports); }
NODE_API_MODULE(hugespan, InitModule)
