#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/args.hpp"
#include "tools/music/tools.hpp"

namespace concierge::tools::music {

ToolDefinition playback(App& app) {
  return define(
      "music_playback",
      {.title = "Control playback",
       .description = "Controls the player. action: play (uri of a track, and/or context_uri of an album, playlist or "
                      "artist with offset; nothing: resume), pause, resume, next, previous, seek (position_ms), volume "
                      "(volume_percent), shuffle (state true/false), repeat (state off/track/context), transfer "
                      "(device_id). device_id on play picks the device (default: the user's default device, else the "
                      "active one). Returns the player after the change.",
       .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto& p = app.providers.music.get(args.value("account", ""));
        auto call = provider_call(app, args, ctx);
        std::string action = args.at("action");
        mu::PlayerState s;
        if (action == "play") {
          std::string device = args.value("device_id", "");
          if (device.empty()) {
            Json pref = app.preferences.get(ctx.user()).value("default_music_device", Json());
            if (pref.is_string()) device = pref.get<std::string>();
          }
          s = p.play(call, args.value("uri", ""), args.value("context_uri", ""), args.value("offset", 0), device);
        } else if (action == "pause") s = p.pause(call);
        else if (action == "resume") s = p.resume(call);
        else if (action == "next") s = p.next(call);
        else if (action == "previous") s = p.previous(call);
        else if (action == "seek") s = p.seek(call, required_for<int>(args, "position_ms", action));
        else if (action == "volume") s = p.set_volume(call, required_for<int>(args, "volume_percent", action));
        else if (action == "shuffle") {
          if (!args.contains("state") || !args["state"].is_boolean()) throw providers::Error("state", "must be true or false for action 'shuffle'");
          s = p.set_shuffle(call, args["state"].get<bool>());
        } else if (action == "repeat") {
          if (!args.contains("state") || !args["state"].is_string()) throw providers::Error("state", "must be off, track or context for action 'repeat'");
          s = p.set_repeat(call, args["state"].get<std::string>());
        } else s = p.transfer(call, required_for<std::string>(args, "device_id", action));
        std::string text = player_line(s);
        if (action == "volume") text = "Volume " + std::to_string(s.volume_percent) + "%.";
        else if (action == "shuffle") text = std::string("Shuffle ") + (s.shuffle ? "on." : "off.");
        else if (action == "repeat") text = "Repeat " + s.repeat + ".";
        else if (action == "transfer") text = "Playing on " + s.device_id + " now. " + text;
        return ToolResult::text(text, Json{{"action", action}, {"player", player_json(s)}});
      });
}

const ToolRegistrar registered{"music", playback};

}  // namespace concierge::tools::music
