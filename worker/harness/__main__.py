from worker.harness.main import main

main()
