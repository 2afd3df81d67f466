# Packages: a .deb and a .tar.gz of the installed tree (`cpack` in the build folder;
# packaging/package.sh builds the .deb and checks it with lintian, desktop-file-validate and
# appstreamcli). The .deb installs under /usr: the programs find their presets and bundled models
# in /usr/share/sdestudio (beside the executable's ../share), and its dependencies are the
# packages of the libraries it links, found by dpkg-shlibdeps.
set(CPACK_PACKAGE_NAME "sdestudio")
set(CPACK_PACKAGE_VENDOR "SDE Studio")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "studio for score-based generative models (score SDEs)")
set(CPACK_PACKAGE_DESCRIPTION
    "SDE Studio runs score-based generative models (Song et al., Score-Based\n"
    "Generative Modeling through Stochastic Differential Equations, ICLR 2021):\n"
    "generation with the reverse-time SDE and fast samplers, inpainting,\n"
    "colorization, interpolation through the probability-flow ODE, bits per\n"
    "dimension and training, in a desktop studio (sdestudio) and on the command\n"
    "line (sdestudio-cli). It reads the reference implementation's checkpoints\n"
    "and comes with Fashion-MNIST, photograph and 2D models.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "SDE Studio developers <developers@sdestudio.invalid>")
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_STRIP_FILES ON)
# The .deb installs under /usr (CPack's default for DEB). Its dependencies come from
# dpkg-shlibdeps, which needs every linked library to belong to a Debian package: the default
# flavor's; the CUDA flavor links the torch wheel's libraries, which no package owns, so it makes
# the .tar.gz only.
if(SDE_TORCH_VENV)
    set(CPACK_GENERATOR "TGZ")
else()
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
# Loaded at run time, so dpkg-shlibdeps cannot see it: Qt's platform plugins (xcb, wayland).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)

# The Debian documentation every package carries: the copyright file and a compressed changelog.
set(SDE_DEBIAN_DOC "${CMAKE_BINARY_DIR}/debian-doc")
file(MAKE_DIRECTORY "${SDE_DEBIAN_DOC}")
# gzip -9n: the most compression and no name or time stamp in the header, as Debian wants it
# (again whenever the changelog changes).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/debian/changelog")
execute_process(COMMAND gzip -9nc "${CMAKE_CURRENT_LIST_DIR}/debian/changelog"
                OUTPUT_FILE "${SDE_DEBIAN_DOC}/changelog.gz" RESULT_VARIABLE SDE_GZIP_RESULT)
if(NOT SDE_GZIP_RESULT EQUAL 0)
    message(FATAL_ERROR "gzip could not compress packaging/debian/changelog")
endif()
install(FILES "${CMAKE_CURRENT_LIST_DIR}/debian/copyright" "${SDE_DEBIAN_DOC}/changelog.gz"
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/sdestudio)
include(CPack)
