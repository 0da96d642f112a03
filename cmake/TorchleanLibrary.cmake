# tl_library_pair(NAME <target_link_libraries arguments>)
#
# NAME is a STATIC library already holding its sources: the in-tree tools and tests link it (no
# LD_LIBRARY_PATH anywhere); it installs as libNAME.a and is exported as torchlean::NAME_static.
# With TL_SHARED_LIBS (default ON) a twin NAME_shared is built from the same position-independent
# objects: libNAME.so.<version> with SONAME libNAME.so.0, exported as torchlean::NAME.  Its private
# dependencies are linked into it (-Wl,--no-undefined checks that none is missing), so a consumer
# links only -lNAME.  A link argument naming another pair (e.g. PUBLIC torchlean) becomes that
# pair's shared twin for the shared library.  Symbols keep the default visibility.
function(tl_library_pair name)
  set(shared_args)
  foreach(a IN LISTS ARGN)
    if(TARGET ${a}_shared)
      list(APPEND shared_args ${a}_shared)
    else()
      list(APPEND shared_args ${a})
    endif()
  endforeach()
  set(targets ${name})
  if(TL_SHARED_LIBS)
    add_library(${name}_shared SHARED $<TARGET_OBJECTS:${name}>)
    set_target_properties(${name}_shared PROPERTIES OUTPUT_NAME ${name} EXPORT_NAME ${name}
                                                    VERSION ${PROJECT_VERSION} SOVERSION 0)
    target_link_libraries(${name}_shared ${shared_args})
    if(NOT TL_SANITIZE) # the sanitizer runtimes come with the executable, not the library
      target_link_options(${name}_shared PRIVATE -Wl,--no-undefined)
    endif()
    list(APPEND targets ${name}_shared)
  endif()
  target_link_libraries(${name} ${ARGN})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${name}_static)
  foreach(t IN LISTS targets)
    target_include_directories(${t} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  install(TARGETS ${targets} EXPORT torchleanTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
