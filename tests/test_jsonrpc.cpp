#include <catch2/catch.hpp>

#include "server/jsonrpc.hpp"
#include "server/request_state.hpp"
#include "server/revision.hpp"

using namespace concierge;

TEST_CASE("JSON-RPC messages are classified", "[jsonrpc]") {
  auto kind = [](const char* text) { return rpc::classify(Json::parse(text)).kind; };
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":"ping"})") == rpc::Kind::Request);
  CHECK(kind(R"({"jsonrpc":"2.0","id":"a","method":"ping","params":{}})") == rpc::Kind::Request);
  CHECK(kind(R"({"jsonrpc":"2.0","method":"notifications/initialized"})") == rpc::Kind::Notification);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"result":{}})") == rpc::Kind::Response);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}})") == rpc::Kind::Response);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{}})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"id":1,"method":"ping"})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"1.0","id":1,"method":"ping"})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":null,"method":"ping"})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":true,"method":"ping"})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":7})") == rpc::Kind::Invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})") == rpc::Kind::Invalid);
  CHECK(kind(R"("just a string")") == rpc::Kind::Invalid);
  CHECK(kind(R"(42)") == rpc::Kind::Invalid);
}

TEST_CASE("an invalid message keeps its id when the id itself is valid", "[jsonrpc]") {
  auto c = rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":"k","method":7})"));
  CHECK(c.id == "k");
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":null,"method":"x"})")).id.is_null());
}

TEST_CASE("large integer ids survive a round trip exactly", "[jsonrpc]") {
  Json msg, err;
  REQUIRE(rpc::parse(R"({"jsonrpc":"2.0","id":9007199254740993,"method":"ping"})", msg, err));
  CHECK(dump(rpc::make_result(msg["id"], Json::object())).find("9007199254740993") != std::string::npos);
  REQUIRE(rpc::parse(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"})", msg, err));
  CHECK(rpc::valid_id(msg["id"]));
  CHECK(dump(msg["id"]) == "18446744073709551615");
  // Beyond 64 bits the value can't be kept exactly: refused rather than rounded.
  REQUIRE(rpc::parse(R"({"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"})", msg, err));
  CHECK_FALSE(rpc::valid_id(msg["id"]));
}

TEST_CASE("malformed JSON and invalid UTF-8 are parse errors with a null id", "[jsonrpc]") {
  Json msg, err;
  CHECK_FALSE(rpc::parse("{\"jsonrpc\":", msg, err));
  CHECK(err["error"]["code"] == rpc::kParseError);
  CHECK(err["id"].is_null());
  CHECK_FALSE(rpc::parse("{\"a\":\"\xff\xfe\"}", msg, err));
  CHECK(err["error"]["code"] == rpc::kParseError);
  CHECK(err["error"]["message"].get<std::string>().find("UTF-8") != std::string::npos);
}

TEST_CASE("UTF-8 validation rejects overlongs, surrogates and truncation", "[jsonrpc]") {
  CHECK(rpc::valid_utf8("plain ascii"));
  CHECK(rpc::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(rpc::valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(rpc::valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(rpc::valid_utf8("\xe2\x82"));          // truncated
  CHECK_FALSE(rpc::valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
}

TEST_CASE("revisions parse and list newest first", "[revision]") {
  CHECK(parse_revision("2025-06-18") == Revision::V2025_06_18);
  CHECK_FALSE(parse_revision("2025-06-19").has_value());
  CHECK(supported_revisions().front() == "2026-07-28");
  CHECK(supported_revisions().back() == "2024-11-05");
  CHECK(is_modern(Revision::V2026_07_28));
  CHECK_FALSE(is_modern(Revision::V2025_11_25));
}

TEST_CASE("downgrades drop what a revision does not define", "[revision]") {
  Json tool{{"name", "t"}, {"title", "T"}, {"inputSchema", {{"type", "object"}}}, {"outputSchema", {{"type", "object"}}},
            {"annotations", {{"readOnlyHint", true}, {"title", "T"}}}, {"icons", Json::array()}, {"execution", Json::object()}};
  Json t1 = tool; adapt_tool(t1, Revision::V2024_11_05);
  CHECK(t1.size() == 2);
  Json t2 = tool; adapt_tool(t2, Revision::V2025_03_26);
  CHECK(t2.contains("annotations"));
  CHECK_FALSE(t2.contains("title"));
  CHECK(t2["annotations"].value("title", "") == "T");  // the only title a 2025-03-26 client sees
  Json t3 = tool; adapt_tool(t3, Revision::V2025_06_18);
  CHECK(t3.contains("outputSchema"));
  CHECK_FALSE(t3.contains("icons"));
  CHECK(t3["title"] == "T");
  CHECK_FALSE(t3["annotations"].contains("title"));  // said once, by Tool.title
  Json t4 = tool; adapt_tool(t4, Revision::V2025_11_25);
  CHECK(t4.contains("icons"));
  CHECK(t4.contains("execution"));
  Json t5 = tool; adapt_tool(t5, Revision::V2026_07_28);
  CHECK_FALSE(t5.contains("execution"));

  Json content = Json::array({{{"type", "audio"}, {"data", "AA=="}, {"mimeType", "audio/wav"}},
                              {{"type", "resource_link"}, {"uri", "x://y"}, {"name", "y"}}});
  Json c1 = content; adapt_content(c1, Revision::V2024_11_05);
  CHECK(c1[0]["type"] == "text");
  CHECK(c1[1] == Json{{"type", "text"}, {"text", "x://y"}});
  Json c2 = content; adapt_content(c2, Revision::V2025_06_18);
  CHECK(c2 == content);
}

TEST_CASE("requestState is sealed, bound and tamper-evident", "[mrtr]") {
  RequestStateSealer sealer("k1");
  auto token = sealer.seal(Json{{"x", 1}}, "bind");
  auto ok = sealer.open(token, "bind");
  REQUIRE(ok.error.empty());
  CHECK(ok.payload["x"] == 1);
  CHECK_FALSE(sealer.open(token, "other").error.empty());
  std::string tampered = token;
  tampered[tampered.size() / 3] = tampered[tampered.size() / 3] == 'A' ? 'B' : 'A';
  CHECK_FALSE(sealer.open(tampered, "bind").error.empty());
  CHECK_FALSE(RequestStateSealer("k2").open(token, "bind").error.empty());
  RequestStateSealer expired("k1", std::chrono::seconds(-1));
  CHECK(expired.open(expired.seal(Json::object(), "b"), "b").error.find("expired") != std::string::npos);
  CHECK(request_digest("tools/call", Json{{"name", "a"}, {"_meta", {{"x", 1}}}}) ==
        request_digest("tools/call", Json{{"name", "a"}, {"requestState", "s"}}));
  CHECK(request_digest("tools/call", Json{{"name", "a"}}) != request_digest("tools/call", Json{{"name", "b"}}));
}

TEST_CASE("base64url round-trips every length", "[mrtr]") {
  std::string s;
  for (int i = 0; i < 40; ++i) {
    CHECK(base64url_decode(base64url_encode(s)) == s);
    s += static_cast<char>(i * 37);
  }
  CHECK_FALSE(base64url_decode("a+b/").has_value());
}
