# The Debian package: `bash scripts/package.sh [BUILD_DIR] [OUT_DIR]` runs cpack -G DEB on a
# finished build. It holds the binary (stripped), concierge(1) made from its --help, and the
# systemd units in deploy/systemd/. Paths are relative to the package's prefix, /usr.
install(TARGETS concierge RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/concierge.service ${CMAKE_SOURCE_DIR}/deploy/systemd/concierge@.service
        DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/concierge-user.service DESTINATION lib/systemd/user
        RENAME concierge.service)
# The man page is written straight into the install tree (cpack packs what is there), so two
# packagings of one build share no page (only CMake's install_manifest.txt), and a plain build
# needs no help2man.
install(CODE "execute_process(COMMAND sh ${CMAKE_SOURCE_DIR}/cmake/manpage.sh $<TARGET_FILE:concierge>
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/man/man1/concierge.1.gz\" COMMAND_ERROR_IS_FATAL ANY)
              list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${CMAKE_INSTALL_PREFIX}/share/man/man1/concierge.1.gz\")")

set(CONCIERGE_PACKAGE_MAINTAINER "Concierge maintainers <concierge@localhost>" CACHE STRING
    "The Debian package's Maintainer field")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME concierge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # concierge_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CONCIERGE_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MCP server for your calendar, mail, music, video and bookings")
# The extended description; CPack puts the summary above it and indents each line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Concierge gives AI assistants (MCP clients) tools, resources and prompts over
your calendar, mail, music, video and bookings, from a local store or from
services such as Google, Spotify, CalDAV, IMAP, MPD and Cal.com.
It speaks MCP over stdio and Streamable HTTP; systemd units for a system
service and a per-user service are included.")
# The Depends line from what the binary links, as dpkg-shlibdeps reads it from the ELF file: a
# written list would go stale the day a library is added, and would not carry the minimum
# versions the build's libraries require.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # the RelWithDebInfo binary is ~200 MB with its debug information
# Packaging never builds: scripts/package.sh packages a finished build. With Ninja, cpack only runs
# the install scripts; with Makefiles it first builds "preinstall", which is everything unless this
# is set (then `make install` too installs what is there without building).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
include(CPack)
