# Thin front door over CMake/CTest. Every target first makes sure the Debian
# packages are there (scripts/install-deps.sh is idempotent and quick).
#   make            debug build          make release    optimized build
#   make test       the whole suite      make asan       the suite under ASan+UBSan
#   make fuzz       libFuzzer targets    make bench      roostd vs mosquitto
#   make run        start roostd on its embedded defaults
JOBS ?= $(shell nproc)
CMAKE_GEN := -G Ninja
DEPS := sh scripts/install-deps.sh

.PHONY: all debug release test asan fuzz bench run deps clean help unit
all: debug

deps:
	@$(DEPS)

build/debug/build.ninja: CMakeLists.txt
	@$(DEPS)
	cmake -S . -B build/debug $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1 -g"

debug: build/debug/build.ninja
	cmake --build build/debug -j $(JOBS)

build/release/build.ninja: CMakeLists.txt
	@$(DEPS)
	cmake -S . -B build/release $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g"

release: build/release/build.ninja
	cmake --build build/release -j $(JOBS)

# The whole suite: unit, fuzz-corpus replay and integration tests.
test: debug
	cd build/debug && ctest --output-on-failure -j $(JOBS)

unit: debug
	cd build/debug && ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz-regress'

build/asan/build.ninja: CMakeLists.txt
	@$(DEPS)
	cmake -S . -B build/asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DROOST_SANITIZE=ON \
	    -DCMAKE_C_FLAGS="-O1 -g"

asan: build/asan/build.ninja
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

build/fuzz/build.ninja: CMakeLists.txt
	@$(DEPS)
	CC=clang cmake -S . -B build/fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DROOST_FUZZ=ON \
	    -DROOST_SANITIZE=ON -DCMAKE_C_FLAGS="-O1 -g"

fuzz: build/fuzz/build.ninja
	cmake --build build/fuzz -j $(JOBS)
	@echo "run one: build/fuzz/tests/fuzz/fuzz_mqtt_decode tests/fuzz/corpus/mqtt_decode -max_total_time=60"

bench: release
	/usr/bin/python3 scripts/bench.py --build build/release

run: release
	@echo "Starting roostd on ./roost-data (MQTT over mTLS :8883, HTTPS API :8443). In another shell:"
	@echo "  build/release/roost device create dev1 --out dev1    # thing + certificate + policy"
	@echo "  cd dev1 && mosquitto_pub -h localhost -p 8883 --cafile root-ca.pem \\"
	@echo "      --cert dev1.cert.pem --key dev1.private.key -i dev1 -t things/dev1/hello -m hi"
	@echo "  AWS_SHARED_CREDENTIALS_FILE=roost-data/admin.credentials aws iot list-things \\"
	@echo "      --endpoint-url https://localhost:8443 --ca-bundle roost-data/pki/root-ca.pem --region us-east-1"
	build/release/roostd $(ARGS)

clean:
	rm -rf build

help:
	@sed -n '2,7p' Makefile
