#pragma once
// A real Music Player Daemon (Debian's `mpd`) for the MPD adapter's tests: all its state in a
// temporary directory, a unix socket there (no port to race for), a music directory of tiny
// silent FLAC files tagged with `flac --tag`, two "null" outputs with software mixers (the null
// output plays in real time, so positions move; tests assert on track identity). Started with
// --no-daemon as our child; ready once the socket accepts and the database holds every song.
#include <mpd/client.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concierge::test {

struct MpdSong {
  std::string path;  // under the music directory, ".flac"
  std::string artist, album, title;
  int track = 0, year = 0;
  int seconds = 60;
};

// The program's path from $PATH (posix_spawn does not search it).
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? std::string(path) + ":/usr/bin:/usr/sbin:/bin" : "/usr/bin:/usr/sbin:/bin");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && ::access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  throw std::runtime_error(name + " is not installed (scripts/install-deps.sh installs it)");
}

// `seconds` of 16-bit mono silence at 8 kHz: a plain PCM WAV file.
inline void write_silent_wav(const std::filesystem::path& file, int seconds) {
  const uint32_t rate = 8000, bytes = rate * 2 * uint32_t(seconds);
  std::ofstream out(file, std::ios::binary);
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) out.put(char(v >> (8 * i) & 0xff)); };
  auto u16 = [&](uint16_t v) { out.put(char(v & 0xff)); out.put(char(v >> 8)); };
  out.write("RIFF", 4);
  u32(36 + bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(bytes);
  std::string zeros(bytes, '\0');
  out.write(zeros.data(), std::streamsize(zeros.size()));
}

inline void run_to_end(std::vector<std::string> argv) {
  ChildProcess p(std::move(argv));
  p.close_stdin();
  auto st = p.wait_exit(std::chrono::seconds(30));
  if (!st || !st->exited || st->code != 0) throw std::runtime_error("flac failed: " + p.stderr_text());
}

struct MpdServerOptions {
  std::string password;  // when set: full rights with it, only "read" without
  std::string mixer_type = "software";  // "none": an output without volume control
  bool stored_playlists = true;  // false: no playlist_directory (MPD then refuses every playlist command)
};

class MpdServer {
 public:
  using Options = MpdServerOptions;

  explicit MpdServer(const std::vector<MpdSong>& songs, Options options = {}) : options_(std::move(options)), expected_(songs.size()) {
    std::filesystem::create_directories(music());
    std::filesystem::create_directories(dir_.path / "playlists");
    auto wav = dir_.path / "silence.wav";
    std::string flac = find_program("flac");
    int wav_seconds = -1;
    for (auto& s : songs) {
      if (s.seconds != wav_seconds) write_silent_wav(wav, wav_seconds = s.seconds);
      auto out = music() / s.path;
      std::filesystem::create_directories(out.parent_path());
      std::vector<std::string> argv{flac, "-s", "-f"};
      auto tag = [&](const char* k, const std::string& v) { if (!v.empty()) argv.push_back(std::string("--tag=") + k + "=" + v); };
      tag("ARTIST", s.artist);
      tag("ALBUM", s.album);
      tag("TITLE", s.title);
      tag("TRACKNUMBER", s.track ? std::to_string(s.track) : "");
      tag("DATE", s.year ? std::to_string(s.year) : "");
      argv.push_back("-o");
      argv.push_back(out.string());
      argv.push_back(wav.string());
      run_to_end(argv);
    }
    std::filesystem::remove(wav);
    write_config();
    start();
  }
  ~MpdServer() { stop(); }
  MpdServer(const MpdServer&) = delete;
  MpdServer& operator=(const MpdServer&) = delete;

  std::filesystem::path music() const { return dir_.path / "music"; }
  std::string socket() const { return (dir_.path / "socket").string(); }
  const std::filesystem::path& dir() const { return dir_.path; }

  // Starts mpd (again, on the same state) and waits until it serves the whole library.
  void start() {
    std::error_code ec;
    std::filesystem::remove(socket(), ec);
    proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{find_program("mpd"), "--no-daemon", (dir_.path / "mpd.conf").string()});
    proc_->close_stdin();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!accepts()) {
      if (proc_->wait_exit(std::chrono::milliseconds(0))) throw std::runtime_error("mpd exited: " + log());
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("mpd did not listen: " + log());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the socket, not a fixed wait
    }
    wait_for_database(deadline);
  }

  // A hung server: mpd keeps its socket but answers nothing until resume().
  void freeze() { proc_->signal(SIGSTOP); }
  void resume() { proc_->signal(SIGCONT); }

  // Ends mpd (SIGTERM, then SIGKILL) and waits for it.
  void stop() {
    if (!proc_) return;
    proc_->signal(SIGCONT);
    proc_->signal(SIGTERM);
    if (!proc_->wait_exit(std::chrono::seconds(5))) {
      proc_->signal(SIGKILL);
      proc_->wait_exit(std::chrono::seconds(5));
    }
    proc_.reset();
  }

  std::string log() const {
    std::ifstream in(dir_.path / "log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str() + (proc_ ? proc_->stderr_text() : "");
  }

 private:
  void write_config() {
    std::ofstream c(dir_.path / "mpd.conf");
    auto q = [](const std::filesystem::path& p) { return "\"" + p.string() + "\""; };
    c << "music_directory " << q(music()) << "\n"
      << (options_.stored_playlists ? "playlist_directory " + q(dir_.path / "playlists") + "\n" : "")
      << "db_file " << q(dir_.path / "db") << "\n"
      << "state_file " << q(dir_.path / "state") << "\n"
      << "pid_file " << q(dir_.path / "pid") << "\n"
      << "log_file " << q(dir_.path / "log") << "\n"
      << "bind_to_address " << q(socket()) << "\n"
      << "zeroconf_enabled \"no\"\n"
      << "auto_update \"no\"\n"
      << "audio_output {\n  type \"null\"\n  name \"null\"\n  mixer_type \"" << options_.mixer_type << "\"\n}\n"
      << "audio_output {\n  type \"null\"\n  name \"second\"\n  mixer_type \"" << options_.mixer_type << "\"\n}\n";
    if (!options_.password.empty())
      c << "password \"" << options_.password << "@read,add,control,admin\"\n"
        << "default_permissions \"read\"\n";
  }

  bool accepts() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = socket();
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::copy(path.begin(), path.end(), addr.sun_path);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  // `update`, then status until no update runs and the database counts every song.
  void wait_for_database(std::chrono::steady_clock::time_point deadline) {
    mpd_connection* c = mpd_connection_new(socket().c_str(), 0, 5000);
    if (!c || mpd_connection_get_error(c) != MPD_ERROR_SUCCESS) throw std::runtime_error("cannot connect to the test mpd: " + log());
    struct Free {
      mpd_connection* c;
      ~Free() { mpd_connection_free(c); }
    } guard{c};
    if (!options_.password.empty()) mpd_run_password(c, options_.password.c_str());
    if (mpd_run_update(c, nullptr) == 0) mpd_connection_clear_error(c);  // one may be running already
    for (;;) {
      mpd_status* st = mpd_run_status(c);
      if (!st) throw std::runtime_error(std::string("status: ") + mpd_connection_get_error_message(c));
      bool updating = mpd_status_get_update_id(st) != 0;
      mpd_status_free(st);
      if (!updating) {
        mpd_stats* stats = mpd_run_stats(c);
        if (!stats) throw std::runtime_error(std::string("stats: ") + mpd_connection_get_error_message(c));
        size_t n = mpd_stats_get_number_of_songs(stats);
        mpd_stats_free(stats);
        if (n == expected_) return;
      }
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("mpd's database update did not finish: " + log());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  TempDir dir_;
  Options options_;
  size_t expected_;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace concierge::test
