"""@repository and Definitions."""

from opgrid import Definitions, job, op, repository


@op
def hello():
    return "hello"


@job
def job_one():
    hello()


@job
def job_two():
    hello()


@repository
def my_repo():
    return [job_one, job_two]


def test_repository_get_job(execute):
    j = my_repo.get_job("job_one")
    assert j.name == "job_one"
    assert execute(j).output_for_node("hello") == "hello"


def test_repository_get_all_jobs():
    assert sorted(j.name for j in my_repo.get_all_jobs()) == ["job_one", "job_two"]


def test_repository_has_job():
    assert my_repo.has_job("job_two")
    assert not my_repo.has_job("missing_job")


def test_repository_name_is_function_name():
    assert my_repo.name == "my_repo"


def test_definitions_get_job_def(execute):
    defs = Definitions(jobs=[job_one, job_two])
    j = defs.get_job_def("job_two")
    assert j.name == "job_two"
    assert execute(j).success


def test_definitions_job_from_graph_to_job(execute):
    from opgrid import graph

    @graph
    def g():
        hello()

    defs = Definitions(jobs=[g.to_job(name="from_graph")])
    assert execute(defs.get_job_def("from_graph")).output_for_node("hello") == "hello"
