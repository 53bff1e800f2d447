from train.entry import main

main()
