// Only here to own the precompiled header that the test executables reuse.
int main()
{
    return 0;
}
