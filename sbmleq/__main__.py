from sbmleq.cli import main

main()
