#pragma once
// Just enough SMTP (RFC 5321) to receive: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET,
// NOOP, QUIT; with `require_auth`, SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, and no
// MAIL before a successful AUTH (530), as a submission server has it. STARTTLS is not offered:
// the adapter would have to trust the sink's certificate, which it has no setting for.
#include <openssl/evp.h>

#include <mutex>
#include <string>
#include <vector>

#include "support/line_server.hpp"

namespace concierge::test {

class SmtpSink {
 public:
  struct Mail {
    std::string from;
    std::vector<std::string> rcpt;
    std::string data;
  };
  struct Login {
    std::string user, password;
  };
  struct Options {
    bool require_auth = false;
    std::string user, password;  // the credentials it accepts
  };

  SmtpSink() : SmtpSink(Options{}) {}
  explicit SmtpSink(Options o) : o_(std::move(o)), server_([this](LineServer::Conn& c) { session(c); }) {}

  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<Mail> mails() {
    std::lock_guard l(m_);
    return mails_;
  }
  // Every AUTH attempt, accepted or not.
  std::vector<Login> logins() {
    std::lock_guard l(m_);
    return logins_;
  }

  static std::string unbase64(const std::string& in) {
    std::string out(in.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
    if (n < 0) return "";
    out.resize(size_t(n));
    for (size_t i = in.size(); i > 0 && in[i - 1] == '=' && !out.empty(); --i) out.pop_back();  // DecodeBlock keeps the pad bytes
    return out;
  }

 private:
  void session(LineServer::Conn& c) {
    c.say("220 sink.test ESMTP ready\r\n");
    Mail mail;
    bool authed = false;
    std::string l;
    auto upper = [](std::string s) {
      for (auto& ch : s) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      return s;
    };
    // One answer to a 334 challenge; "*" cancels (RFC 4954 section 4).
    auto answer = [&](const std::string& challenge, std::string& out) { return c.say("334 " + challenge + "\r\n") && c.line(out) && out != "*"; };
    auto check = [&](const std::string& user, const std::string& password) {
      {
        std::lock_guard g(m_);
        logins_.push_back({user, password});
      }
      authed = user == o_.user && password == o_.password;
      c.say(authed ? "235 2.7.0 Authentication successful\r\n" : "535 5.7.8 Authentication credentials invalid\r\n");
    };
    while (c.line(l)) {
      std::string verb = upper(l.substr(0, 4));
      if (verb == "EHLO") c.say(o_.require_auth ? "250-sink.test\r\n250 AUTH PLAIN LOGIN\r\n" : "250 sink.test\r\n");  // no SIZE: MAIL FROM stays bare
      else if (verb == "HELO") c.say("250 sink.test\r\n");
      else if (verb == "AUTH" && o_.require_auth) {
        std::string rest = l.size() > 5 ? l.substr(5) : "", mech = upper(rest.substr(0, rest.find(' ')));
        std::string initial = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
        if (mech == "PLAIN") {
          if (initial.empty() && !answer("", initial)) continue;
          std::string plain = unbase64(initial);  // authzid NUL authcid NUL passwd
          auto a = plain.find('\0'), b = a == std::string::npos ? a : plain.find('\0', a + 1);
          if (b == std::string::npos) c.say("501 5.5.2 cannot read PLAIN\r\n");
          else check(plain.substr(a + 1, b - a - 1), plain.substr(b + 1));
        } else if (mech == "LOGIN") {
          std::string user = initial, password;
          if (user.empty() && !answer("VXNlcm5hbWU6", user)) continue;
          if (!answer("UGFzc3dvcmQ6", password)) continue;
          check(unbase64(user), unbase64(password));
        } else {
          c.say("504 5.5.4 unrecognized authentication type\r\n");
        }
      } else if (verb == "MAIL") {
        if (o_.require_auth && !authed) {
          c.say("530 5.7.0 Authentication required\r\n");
          continue;
        }
        mail = {};
        mail.from = l.substr(l.find(':') + 1);
        c.say("250 OK\r\n");
      } else if (verb == "RCPT") {
        mail.rcpt.push_back(l.substr(l.find(':') + 1));
        c.say("250 OK\r\n");
      } else if (verb == "DATA") {
        c.say("354 go ahead\r\n");
        std::string d;
        while (c.line(d) && d != ".") mail.data += (d.rfind("..", 0) == 0 ? d.substr(1) : d) + "\r\n";
        {
          std::lock_guard g(m_);
          mails_.push_back(mail);
        }
        c.say("250 OK queued\r\n");
      } else if (verb == "QUIT") {
        c.say("221 bye\r\n");
        return;
      } else if (verb == "RSET" || verb == "NOOP") {
        c.say("250 OK\r\n");
      } else {
        c.say("502 not here\r\n");
      }
    }
  }

  Options o_;
  std::mutex m_;
  std::vector<Mail> mails_;
  std::vector<Login> logins_;
  LineServer server_;  // last: its thread starts once the rest is ready, and stops first
};

}  // namespace concierge::test
